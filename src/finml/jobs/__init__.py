"""One module per job; each has ``main(argv)`` and a library function it calls."""

"""Exploratory data analysis of every layer: per-column profiles (missingness, co-missing
patterns, distributions, outliers), feature correlations and per-symbol time-series
statistics (stationarity, intraday seasonality, trend), written to the Delta table
``eda_profile`` by :mod:`finml.jobs.eda`."""

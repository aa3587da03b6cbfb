"""Presentational pieces shared by pages."""

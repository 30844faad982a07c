"""Documents for people and machines: META, trends, dashboard, badges."""

"""katana bundle exporter: `python3 -m katana_export --help` (docs/bundle-format.md)."""

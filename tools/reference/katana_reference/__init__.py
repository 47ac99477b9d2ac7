"""katana_reference: the Python reference tracker (test oracle for the C tracker).

SAMURAI (samurai fork of SAM 2, samurai_mode) and plain SAM 2 / EfficientTAM video-predictor
behaviour, run over a backend implementing the bundle's four module contracts
(docs/bundle-format.md). Entry point: `python3 -m katana_reference track ...`.
"""

"""LaDI-VTON, written from ../shared/ladi-vton-spec.md: modules whose state-dict keys and
shapes match the published weights."""

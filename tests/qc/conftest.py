"""What the QC tests share: the sample library's views, preprocessed once per session."""

import pytest

from bench import qc_cases as cases


@pytest.fixture(scope="session")
def views():
    """(photo id, category) -> the view, as the QC benchmark builds them."""
    return {(v.photo_id, v.category): v for v in cases.load_views()}

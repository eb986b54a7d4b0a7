"""The contact sheets' text: reasons wrapped between words and never cut."""

import numpy as np

from tasks.preprocess.contact_sheet import SHEET_W, _font, _row, _text_panel, _wrap

REASON = (
    "missing_keypoints: r_knee, l_knee (the photo is framed above the knees; lower body needs hips and knees) "
    "and a key that will not break between words: library/photos/an-unusually-long-photo-name-without-spaces.jpg"
)


def test_a_long_reason_is_wrapped_whole_within_the_panel():
    font = _font(18)
    lines = _wrap(REASON, 300, font)
    assert len(lines) > 3 and all(font.getlength(line) <= 300 for line in lines)
    assert "".join(lines).replace(" ", "") == REASON.replace(" ", ""), "nothing dropped or cut"
    assert " ".join(lines[:2]).split()[:4] == REASON.split()[:4], "broken between words"


def test_a_row_grows_to_hold_its_text_and_is_as_wide_as_the_sheet():
    short = _row([np.zeros((400, 300, 3), np.uint8)], [("ready", (0, 0, 0))])
    long = _row([np.zeros((400, 300, 3), np.uint8)], [(REASON, (0, 0, 0))] * 12)
    assert short.shape == (400, SHEET_W, 3) and long.shape[1] == SHEET_W and long.shape[0] > 400
    panel = _text_panel([(REASON, (0, 0, 0))], 400, 10)
    ink_rows = np.flatnonzero((panel < 128).any(axis=(1, 2)))
    assert ink_rows.max() < panel.shape[0] - 4, "the last line is inside the panel"

"""The QA review: decisions on flagged generations (``decisions``) and the web page (``app``)."""

"""The catalog: every artefact one stage hands another, each with its key, its schema and its
typed read and write in one place (library views, index rows and clusters, garment cut-outs and
embeddings, generation plans, review copies). Stages import the catalog, the shared layers and
the toolboxes they use, never another stage's module (``tests/test_house_rules.py``)."""

"""When model_library has work: the photos' fingerprint against the last build's."""

from dataclasses import replace

from tasks.preprocess.library_stage import build_index, library_changed, photos_fingerprint
from tests.conftest import SAMPLES


def test_a_build_is_due_only_when_the_photos_or_the_backends_changed(ctx):
    photo = (SAMPLES / "library" / "049205_0.jpg").read_bytes()
    ctx.store.put_bytes("library/photos/a.jpg", photo)
    first = library_changed(ctx)
    assert first == photos_fingerprint(ctx), "no build yet: one is due"
    build_index(ctx, [], first)
    assert library_changed(ctx) is None, "nothing changed since the build"
    ctx.store.put_bytes("library/photos/b.jpg", photo)
    added = library_changed(ctx)
    assert added not in (None, first), "a new photo"
    ctx.store.put_bytes("library/photos/b.jpg", photo[:-100])
    assert library_changed(ctx) not in (None, first, added), "a photo replaced under the same key"
    build_index(ctx, [], library_changed(ctx))
    ctx.store.delete("library/photos/b.jpg")
    assert library_changed(ctx) == first, "a deleted photo: the library is what it was at the first build"
    other = replace(ctx, settings=ctx.settings.model_copy(update={"embedding_backend": "clip-vit-b32"}))
    assert library_changed(other) not in (None, first), "another backend prepares the photos otherwise"

from __future__ import annotations

import subprocess
import sys

import omnivec


def test_public_names_are_pinned() -> None:
    assert sorted(omnivec.__all__) == sorted(
        [
            "AccessDenied", "Content", "DecodeError", "Embedder", "Embeddings", "InvalidInput",
            "LimitExceeded", "MissingDependency", "ModelInfo", "ModelMismatch", "ModelNotFound",
            "OmnivecError", "Part", "Settings", "UnsupportedMedia", "__version__", "embed",
        ]
    )


def test_importing_omnivec_does_not_import_torch() -> None:
    code = "import sys, omnivec; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"

"""Regenerate zone/_proto from proto/zone/v1 (``make proto``).

The protos live under the ``zone.v1`` package; the generated modules are placed flat in
``zone/_proto`` and their ``from zone.v1 import`` lines rewritten to ``from zone._proto import``.
``proto/grpc/reflection/v1/reflection.proto`` (server reflection v1, which grpcio-reflection
does not ship) becomes ``zone/_proto/reflection_v1_pb2.py``: messages only, no stubs.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "zone" / "_proto"
REFLECTION_V1 = "grpc/reflection/v1/reflection.proto"
IMPORT = re.compile(r"^from zone\.v1 import", re.MULTILINE)


def main() -> int:
    """Generate the code; return a process exit status."""
    protos = sorted(
        str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "zone" / "v1").glob("*.proto")
    )
    include = str(Path(protoc.__file__).parent / "_proto")
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--plugin=protoc-gen-mypy_grpc={plugin}",
            f"--mypy_grpc_out={tmp}",
            *protos,
        ]
        if protoc.main(args) != 0:
            print("protoc failed", file=sys.stderr)
            return 1
        reflection = ["grpc_tools.protoc", f"-I{PROTO_DIR}", f"--python_out={tmp}"]
        if protoc.main([*reflection, f"--pyi_out={tmp}", REFLECTION_V1]) != 0:
            print("protoc failed on the reflection v1 proto", file=sys.stderr)
            return 1
        if OUT_DIR.exists():
            shutil.rmtree(OUT_DIR)
        OUT_DIR.mkdir(parents=True)
        (OUT_DIR / "__init__.py").write_text(
            '"""Generated protobuf and gRPC code (make proto)."""\n'
        )
        for path in sorted((Path(tmp) / "zone" / "v1").iterdir()):
            text = IMPORT.sub("from zone._proto import", path.read_text())
            (OUT_DIR / path.name).write_text(text)
        generated = Path(tmp) / REFLECTION_V1
        for suffix in ("_pb2.py", "_pb2.pyi"):
            source = generated.with_name(generated.stem + suffix)
            (OUT_DIR / f"reflection_v1{suffix}").write_text(source.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

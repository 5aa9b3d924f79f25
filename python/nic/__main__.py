"""`python -m nic`: which libnic the package loads, its version and the default model directory."""

import sys

from . import NicError, LibraryNotFoundError, default_model_dir, library_path, version, version_number


def main() -> int:
    try:
        print(f"libnic {version()} (0x{version_number():06x})")
        print(f"library: {library_path()}")
    except (LibraryNotFoundError, NicError) as e:
        print(f"nic: {e}", file=sys.stderr)
        return 1
    print(f"models: {default_model_dir() or 'the library default (NIC_MODEL_DIR, then the installed models)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

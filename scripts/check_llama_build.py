"""Exit 0 when the installed llama.cpp build is the one scripts/install.sh asks for, else say why and exit 1.

The build asked for: this CPU's instruction sets (GGML_NATIVE=ON) without AMX. A wheel from pip's
cache may be an older build (AVX2 only, or with AMX): pip keys cached wheels by the source, not by
CMAKE_ARGS. With CMAKE_ARGS naming GGML_NATIVE=OFF, any build without AMX is accepted.
"""

from __future__ import annotations

import os
import sys


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def main() -> int:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    features = {kv.split("=")[0].strip() for kv in info.replace("CPU :", "|").split("|") if kv.strip().endswith("= 1")}
    native = "GGML_NATIVE=OFF" not in os.environ.get("CMAKE_ARGS", "")
    problems = []
    if any(f.startswith("AMX") for f in features):
        problems.append("it uses AMX (crashes here)")
    if native and "avx512f" in cpu_flags() and "AVX512" not in features:
        problems.append("the CPU has AVX-512 but the build does not use it")
    print(f"llama.cpp build: {info.strip()}")
    if problems:
        print(f"llama.cpp build is not the one asked for: {'; '.join(problems)}; rebuilding", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

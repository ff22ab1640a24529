"""transforms.lang: the quiet jieba loader."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import sys
from transforms.lang import new_jieba_tokenizer
tokenizer = new_jieba_tokenizer()  # jieba's own dictionary file, read without pkg_resources
print("pkg_resources" in sys.modules, len(tokenizer.FREQ) > 100_000, "/".join(tokenizer.lcut("今天团队的项目上线了")))
import pkg_resources  # still importable by whoever needs it afterwards
"""


def test_jieba_is_imported_without_pkg_resources_and_still_reads_its_dictionary() -> None:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", CODE], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.split() == ["False", "True", "今天/团队/的/项目/上线/了"], out.stderr

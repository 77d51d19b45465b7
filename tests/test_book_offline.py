"""The built book must read offline: nothing it loads may come from the network."""
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def test_mathjax_is_served_from_the_book_itself(tmp_path):
    import build_book

    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    assert not config["mathjax_path"].startswith(("http:", "https:", "//"))
    build_book.stage_mathjax(tmp_path / "mathjax")
    assert (tmp_path / config["mathjax_path"]).is_file()


def test_no_page_source_loads_a_script_from_the_network():
    for page in [*REPO.glob("book/*.md"), *REPO.glob("book/*.ipynb"), REPO / "_config.yml"]:
        text = page.read_text()
        assert "<script src=\"http" not in text and "cdn.jsdelivr" not in text, page

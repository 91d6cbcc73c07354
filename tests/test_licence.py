"""The licences: code MIT-0 (LICENSE), text CC BY-SA 4.0 (LICENSE-text), as pyproject.toml and the footer say."""

import tomllib

import yaml


def test_licence_files_and_pyproject_agree(root):
    assert (root / "LICENSE").read_text().startswith("MIT No Attribution\n")
    text = (root / "LICENSE-text").read_text()
    assert "Creative Commons Attribution-ShareAlike 4.0" in text and "MIT No Attribution (MIT-0)" in text
    assert "https://creativecommons.org/licenses/by-sa/4.0/legalcode" in text
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT-0" and project["license-files"] == ["LICENSE", "LICENSE-text"]


def test_the_book_footer_names_both(root):
    """The footer of every page (tests/site/test_html.py checks the built pages)."""
    footer = yaml.safe_load((root / "_config.yml").read_text())["html"]["extra_footer"]
    assert "text of this book" in footer and "CC BY-SA 4.0" in footer and "code under" in footer and "MIT-0" in footer

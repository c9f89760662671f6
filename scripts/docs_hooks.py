"""MkDocs hooks for the docs site (`mkdocs build`, see mkdocs.yml): the README is the front page, the repository's
other READMEs and the changelog become pages, and every relative link is rewritten from where its file sits in the
repository to where its page sits in the site (a link to a file the site has no page for becomes plain code text)."""
import json
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
EXTRA = {"index.md": "README.md", "changelog.md": "CHANGELOG.md", "repo/tests.md": "tests/README.md",
         "repo/bench.md": "bench/README.md", "repo/studies.md": "studies/README.md", "repo/data.md": "data/README.md",
         "repo/gpu-runs.md": "scripts/gpu/README.md"}
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


CLEAN = ROOT / ".cache" / "docs-notebooks"   # notebooks as the site shows them


def clean_notebook(src: Path, dst: Path):
    "A notebook as a reader should see it: nbdev's `#| hide` and `#| default_exp` cells dropped, `#|` directive lines removed."
    nb = json.loads(src.read_text())
    cells = []
    for c in nb["cells"]:
        lines = "".join(c["source"]).split("\n")
        if c["cell_type"] == "code":
            if lines and lines[0].strip() in ("#| hide", "#|hide") or lines[0].startswith("#| default_exp"): continue
            lines = [l for l in lines if not l.startswith("#|")]
        c["source"] = "\n".join(lines).strip("\n")
        if c["source"]: cells.append(c)
    nb["cells"] = cells
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb))


def on_files(files, config):
    "Add the pages that live outside docs/ (README as the front page, the changelog, the other READMEs); show cleaned notebooks."
    for uri, src in EXTRA.items():
        files.append(File.generated(config, uri, content=(ROOT / src).read_text()))
    for f in files:
        if f.src_uri.startswith("api/") and f.src_uri.endswith(".ipynb"):
            dst = CLEAN / f.src_uri
            clean_notebook(Path(f.abs_src_path), dst)
            f.abs_src_path = str(dst)
    return files


def _repo_path(src_uri: str) -> str:
    "Where a page's source sits in the repository."
    return EXTRA.get(src_uri) or ("nbs/" + src_uri[4:] if src_uri.startswith("api/") else "docs/" + src_uri)


def _site_path(repo: str, pages: set) -> str | None:
    "The site page (src_uri) of a repository file, or None when the site has none."
    back = {v: k for k, v in EXTRA.items()}
    if repo in back: return back[repo]
    if repo.startswith("docs/") and repo[5:] in pages: return repo[5:]
    if repo.startswith("nbs/") and "api/" + repo[4:] in pages: return "api/" + repo[4:]
    return None


def on_page_markdown(markdown, page, config, files):
    "Rewrite each relative link from the repository's layout to the site's."
    pages = {f.src_uri for f in files}
    here = page.file.src_uri
    where = posixpath.dirname(_repo_path(here))

    def fix(m):
        text, target = m.group(1), m.group(2)
        if re.match(r"[a-z]+:|#", target): return m.group(0)           # a URL or an anchor on this page
        path, _, anchor = target.partition("#")
        repo = posixpath.normpath(posixpath.join(where, path))
        site = _site_path(repo, pages)
        if site is None: return f"{text} (`{repo}`)" if text.strip("`") != repo else f"`{repo}`"
        rel = posixpath.relpath(site, posixpath.dirname(here) or ".")
        return f"[{text}]({rel}{'#' + anchor if anchor else ''})"
    return LINK.sub(fix, markdown)

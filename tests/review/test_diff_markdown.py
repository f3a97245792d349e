"""The MR note's Markdown: under the limit, every fence closed and unclosable by content, data escaped."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.review.diffmarkdown import DEFAULT_LIMIT, markdown
from renderer.review.treediff import ObjectChange, TreeDiff

OPEN = re.compile(r"^(`{3,})diff$")


def change(i: int, lines: int, scope: str = "dev/shop", width: int = 60, text: str = "x") -> ObjectChange:
    body = "".join(f"+  line {j:05d}: {text * width}\n" for j in range(lines))
    path = f"kubernetes/{scope}/w/deployment-w{i:04d}.yaml"
    diff = f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"
    return ObjectChange(scope, path, "added", "Deployment", diff, f"w{i:04d}")


def fences(md: str) -> list[tuple[str, list[str]]]:
    """Each fenced block as (fence, content lines); fails on a fence left open or closed early."""
    blocks: list[tuple[str, list[str]]] = []
    fence: str | None = None
    content: list[str] = []
    for line in md.split("\n"):
        if fence is None:
            m = OPEN.match(line)
            if m:
                fence, content = m.group(1), []
            continue
        # CommonMark: a closing fence is up to 3 spaces, at least as many backticks, then spaces only
        if re.fullmatch(" {0,3}`{" + str(len(fence)) + ",}[ \t]*", line):
            assert line == fence, f"content line {line!r} would close the fence {fence!r}"
            blocks.append((fence, content))
            fence = None
        else:
            content.append(line)
    assert fence is None, "a fence was left open"
    return blocks


def test_a_diff_that_fits_is_shown_whole() -> None:
    diff = TreeDiff((change(1, 5), change(2, 5, scope="prod/shop")), ("WARN [prod] baseline/x: y",))
    md = markdown(diff, artifact="diff.txt")
    assert md.startswith(
        "**2 objects changed** in 2 scopes:\n\n| scope | added | changed | removed | Terraform |"
    )
    assert "| dev/shop | 1 | 0 | 0 | — |" in md and "| prod/shop | 1 | 0 | 0 | — |" in md
    assert md.index("Policy warnings (1)") < md.index("<details>")
    assert md.count("<details><summary>") == md.count("</details>") == 2
    assert "<details><summary>dev/shop: 1 added</summary>\n\n" in md
    assert [len(content) for _, content in fences(md)] == [8, 8]
    assert "too long" not in md and "diff.txt" not in md  # whole: no pointer needed


def test_no_changes() -> None:
    md = markdown(TreeDiff(()), header="### Rendered diff")
    assert md == (
        "### Rendered diff\n\n**No changes**: the rendered output is what the environment repo holds.\n\n"
        "Policy warnings: none.\n\n"
    )


def test_too_long_a_diff_is_shortened_per_object_with_every_fence_closed() -> None:
    # 30 objects of ~80,000 characters each: 2.4 million, more than twice what a note takes
    diff = TreeDiff(tuple(change(i, 1000, scope=f"dev/app{i % 3}") for i in range(30)))
    md = markdown(diff, artifact="renderer-diff.txt")
    assert DEFAULT_LIMIT - 5000 < len(md) <= DEFAULT_LIMIT
    blocks = fences(md)
    assert len(blocks) == 30  # every object keeps a part: a fair share each
    shares = {len("\n".join(content)) for _, content in blocks}
    assert max(shares) - min(shares) < 200  # equal shares, each cut at a line end
    assert all(content[-1].startswith("+  line ") and content[-1].endswith("x" * 60) for _, content in blocks)
    assert md.count("more lines not shown here (see the full diff)") == 30
    assert md.count("<details><summary>") == md.count("</details>") == 3
    assert md.endswith(
        "> The diff is too long for one note and was shortened. "
        "The full diff is the job artifact <code>renderer-diff.txt</code>.\n"
    )


def test_small_objects_stay_whole_while_large_ones_are_cut() -> None:
    small = [change(i, 3) for i in range(5)]
    large = [change(100 + i, 5000) for i in range(2)]
    md = markdown(TreeDiff((*small, *large)), limit=200_000, artifact="d.txt")
    assert len(md) <= 200_000
    blocks = fences(md)
    assert [len(content) for _, content in blocks[:5]] == [6] * 5  # whole
    assert all(len(content) < 5000 for _, content in blocks[5:])  # cut
    assert md.count("more lines not shown here") == 2


def test_too_many_objects_to_show_are_counted() -> None:
    diff = TreeDiff(tuple(change(i, 20) for i in range(400)))
    md = markdown(diff, limit=20_000, artifact="d.txt")
    assert len(md) <= 20_000
    shown = len(fences(md))
    assert 0 < shown < 400
    assert f"*{400 - shown} more objects not shown here (see the full diff).*" in md
    assert "The full diff is the job artifact <code>d.txt</code>." in md


def test_content_cannot_close_the_fence() -> None:
    body = "+  a: ```\n+````\n+  ``````` seven\n+`````\n"
    c = ObjectChange("dev/shop", "kubernetes/dev/shop/x/configmap-x.yaml", "added", "ConfigMap", body)
    md = markdown(TreeDiff((c,)))
    ((fence, content),) = fences(md)
    assert fence == "`" * 8 and content == body.rstrip("\n").split("\n")


def test_a_cut_long_line_keeps_whole_characters() -> None:
    c = change(1, 3, width=100_000, text="ü€😀")  # three lines of 300,000 multi-byte characters
    md = markdown(TreeDiff((c,)), limit=50_000)
    assert len(md) <= 50_000
    ((_, content),) = fences(md)
    assert content[-1].endswith("😀") or content[-1].endswith("€") or content[-1].endswith("ü")
    md.encode("utf-8")  # whole code points: encodes without error


def test_strings_from_the_trees_are_data() -> None:
    path = "kubernetes/dev/shop/</details><script>alert(1)</script>/x.yaml"
    c = ObjectChange("dev/shop", path, "added", "Kind*with_[md](x)", "+a\n", name="@all #1 !2")
    md = markdown(TreeDiff((c,), ("WARN </details> @everyone **bold** [x](http://e)",)))
    prose = "\n".join(line for line in md.split("\n") if not line.startswith("+"))
    for raw in ("<script>", "</details><", "@all", "@everyone", "**bold**", "[x](", "[md](", "#1", "!2"):
        assert raw not in prose.replace("<details><summary>", "").replace("</summary>", ""), raw
    assert prose.count("</details>") == 1


def test_a_pure_function() -> None:
    diff = TreeDiff(tuple(change(i, 300) for i in range(20)))
    assert markdown(diff, limit=30_000, artifact="a") == markdown(diff, limit=30_000, artifact="a")


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=400), min_size=0, max_size=40),
    limit=st.integers(min_value=10_000, max_value=120_000),
    ticks=st.integers(min_value=0, max_value=12),
)
def test_any_diff_fits_with_fences_balanced(sizes: list[int], limit: int, ticks: int) -> None:
    changes = tuple(change(i, n, scope=f"e/a{i % 4}", text="`" * ticks or "y") for i, n in enumerate(sizes))
    md = markdown(TreeDiff(changes), limit=limit, artifact="full.txt")
    assert len(md) <= limit
    blocks = fences(md)
    assert md.count("<details><summary>") == md.count("</details>")
    if len(blocks) < len(changes):
        assert f"*{len(changes) - len(blocks)} more object" in md
    if "shortened" in md:
        assert "<code>full.txt</code>" in md

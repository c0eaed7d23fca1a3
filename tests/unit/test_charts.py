"""Server-drawn SVG charts: figures in titles, links kept, text escaped, axes that read."""
from __future__ import annotations

from registry.web.charts import Row, Series, columns, fit, hbars, nice_ticks


def test_axis_ticks_are_round_and_reach_the_largest_value():
    assert nice_ticks(211) == [0, 50, 100, 150, 200, 250]
    assert nice_ticks(76) == [0, 20, 40, 60, 80]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(2) == [0, 1, 2]  # whole files, never 0.4 of one
    assert nice_ticks(3_050_000)[-1] >= 3_050_000


def test_long_labels_are_cut_to_fit_and_kept_whole_in_the_title():
    assert fit("Cotton printing, dyeing and finishing", 100).endswith("…")
    assert fit("稠城", 100) == "稠城"
    svg = hbars([Row("Cotton printing, dyeing and finishing", [3])], [Series("Files", "#000")], title="t", width=300)
    assert "<title>Cotton printing, dyeing and finishing</title>" in svg


def test_segments_link_to_their_list_and_names_are_escaped():
    svg = hbars([Row("<b>&", [2, 0, 1], ["/list?a=1&b=2", None, "/c"])],
                [Series("A", "#198754"), Series("B", "#0d6efd"), Series("C", "#b8860b")], title="Grades <x>")
    assert '<a href="/list?a=1&amp;b=2" aria-label="&lt;b&gt;&amp; · A: 2">' in svg
    assert "&lt;b&gt;&amp; · B" not in svg  # nothing drawn for zero
    assert "<title>&lt;b&gt;&amp; · C: 1</title>" in svg and "<b>" not in svg
    assert "Grades &lt;x&gt;" in svg


def test_columns_skip_months_to_come_and_draw_lines():
    svg = columns(["01", "02"], [(Series("Read", "#00f"), [5.0, None], [])], [(Series("Plan", "#000"), [4.0, 4.0])],
                  title="v", unit="m³")
    assert "<title>01 · Read: 5 m³</title>" in svg and "02 · Read" not in svg
    assert svg.count("<circle") == 2 and "<polyline" in svg

"""Server-side SVG charts: no JavaScript, no external library; text is escaped by the template engine's rules."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]], *, width: int = 720,
              height: int = 200, title: str = "") -> str:
    """Grouped bars: ``series`` is (name, values, colour) with one value per label."""
    pad_l, pad_b, pad_t = 40, 24, 24
    n = max(len(labels), 1)
    top = max([1] + [v for _, vals, _ in series for v in vals])
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    slot = plot_w / n
    bar = max(slot / max(len(series), 1) - 1, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>{escape(title)}</title>',
           f'<text x="{pad_l}" y="14" font-size="12">{escape(title)}</text>',
           f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 8}" y2="{pad_t + plot_h}" stroke="#888"/>',
           f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="10" text-anchor="end">{top}</text>',
           f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" font-size="10" text-anchor="end">0</text>']
    for s, (name, vals, colour) in enumerate(series):
        for i, v in enumerate(vals):
            h = plot_h * v / top
            x = pad_l + i * slot + s * bar
            out.append(f'<rect x="{x:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                       f'fill="{colour}"><title>{escape(labels[i])} {escape(name)}: {v}</title></rect>')
        out.append(f'<rect x="{width - 150}" y="{4 + 14 * s}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{width - 136}" y="{13 + 14 * s}" font-size="11">{escape(name)}</text>')
    step = max(n // 6, 1)
    for i in range(0, n, step):
        out.append(f'<text x="{pad_l + i * slot:.1f}" y="{height - 6}" font-size="10">{escape(labels[i])}</text>')
    out.append("</svg>")
    return "".join(out)

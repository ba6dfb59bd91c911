"""Small SVG writers for the example scripts: a line chart and a grid of grey-scale images.
Plain SVG text, no plotting library needed."""
import html


def _escape(text):
    return html.escape(str(text), quote=True)


def line_chart(path, title, xlabel, ylabel, series, width=640, height=400):
    """series: list of (name, xs, ys, colour, dashed). Writes an SVG with axes, ticks and a legend."""
    left, right, top, bottom = 64, 150, 40, 52
    xs_all = [x for _, xs, _, _, _ in series for x in xs]
    ys_all = [y for _, _, ys, _, _ in series for y in ys]
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = min(ys_all), max(ys_all)
    pad = 0.05 * (y1 - y0 or 1)
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom
    px = lambda x: left + (x - x0) / (x1 - x0 or 1) * pw  # noqa: E731
    py = lambda y: top + (y1 - y) / (y1 - y0 or 1) * ph  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15">{_escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>']
    for i in range(6):
        xv = x0 + (x1 - x0) * i / 5
        yv = y0 + (y1 - y0) * i / 5
        out.append(f'<line x1="{px(xv):.1f}" y1="{top + ph}" x2="{px(xv):.1f}" y2="{top + ph + 5}" stroke="#444"/>')
        out.append(f'<text x="{px(xv):.1f}" y="{top + ph + 18}" text-anchor="middle">{xv:.3g}</text>')
        out.append(f'<line x1="{left - 5}" y1="{py(yv):.1f}" x2="{left}" y2="{py(yv):.1f}" stroke="#444"/>')
        out.append(f'<text x="{left - 8}" y="{py(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 12}" text-anchor="middle">{_escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2})">{_escape(ylabel)}</text>')
    for k, (name, xs, ys, colour, dashed) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        ly = top + 14 + 20 * k
        out.append(f'<line x1="{left + pw + 12}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{_escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def image_grid(path, title, rows, side, cell=6, gap=6, label_width=120, value_range=(0.0, 16.0)):
    """rows: list of (label, [image, ...]) with each image `side`×`side` values in value_range
    (dark = high). Writes an SVG grid, one labelled row per entry."""
    n = max(len(images) for _, images in rows)
    img = side * cell
    width = label_width + n * (img + gap) + gap
    height = 36 + len(rows) * (img + gap) + gap
    lo, hi = value_range
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{_escape(title)}</text>']
    for r, (label, images) in enumerate(rows):
        y = 36 + r * (img + gap)
        out.append(f'<text x="{label_width - 8}" y="{y + img / 2 + 4}" text-anchor="end">{_escape(label)}</text>')
        for c, image in enumerate(images):
            x = label_width + c * (img + gap)
            for i, v in enumerate(image):
                level = min(1.0, max(0.0, (float(v) - lo) / (hi - lo)))
                g = int(round(255 * (1 - level)))
                out.append(f'<rect x="{x + (i % side) * cell}" y="{y + (i // side) * cell}" width="{cell}" '
                           f'height="{cell}" fill="rgb({g},{g},{g})"/>')
            out.append(f'<rect x="{x}" y="{y}" width="{img}" height="{img}" fill="none" stroke="#999"/>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def heat_maps(path, title, maps, extent, cell=6, gap=40, value_range=None):
    """maps: list of (label, 2-D list or array, rows = y from top to bottom). Draws them side by side
    with a shared colour scale (blue low, white middle, red high) and a colour bar. extent:
    (x0, x1, y0, y1) for the axis labels."""
    rows, cols = len(maps[0][1]), len(maps[0][1][0])
    values = [float(v) for _, grid in maps for row in grid for v in row]
    lo, hi = value_range or (min(values), max(values))
    w, h = cols * cell, rows * cell
    left, top = 50, 50
    width = left + len(maps) * (w + gap) + 90
    height = top + h + 50

    def colour(v):
        t = min(1.0, max(0.0, (float(v) - lo) / (hi - lo or 1)))
        if t < 0.5:
            k = t / 0.5
            return f"rgb({int(40 + 215 * k)},{int(90 + 165 * k)},{int(200 + 55 * k)})"
        k = (t - 0.5) / 0.5
        return f"rgb(255,{int(255 - 175 * k)},{int(255 - 205 * k)})"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{_escape(title)}</text>']
    x0, x1, y0, y1 = extent
    for m, (label, grid) in enumerate(maps):
        gx = left + m * (w + gap)
        out.append(f'<text x="{gx + w / 2}" y="{top - 8}" text-anchor="middle">{_escape(label)}</text>')
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                out.append(f'<rect x="{gx + c * cell}" y="{top + r * cell}" width="{cell}" height="{cell}" '
                           f'fill="{colour(v)}"/>')
        out.append(f'<rect x="{gx}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#444"/>')
        out.append(f'<text x="{gx}" y="{top + h + 16}" text-anchor="middle">{x0:g}</text>')
        out.append(f'<text x="{gx + w}" y="{top + h + 16}" text-anchor="middle">{x1:g}</text>')
        out.append(f'<text x="{gx + w / 2}" y="{top + h + 32}" text-anchor="middle">x</text>')
        out.append(f'<text x="{gx - 6}" y="{top + h}" text-anchor="end">{y0:g}</text>')
        out.append(f'<text x="{gx - 6}" y="{top + 10}" text-anchor="end">{y1:g}</text>')
        out.append(f'<text x="{gx - 18}" y="{top + h / 2}" text-anchor="end">y</text>')
    bx = left + len(maps) * (w + gap) - gap + 30
    steps = 20
    for i in range(steps):
        v = hi - (hi - lo) * (i + 0.5) / steps
        out.append(f'<rect x="{bx}" y="{top + i * h / steps:.1f}" width="14" height="{h / steps + 0.5:.1f}" '
                   f'fill="{colour(v)}"/>')
    out.append(f'<text x="{bx + 20}" y="{top + 10}">{hi:.3g}</text>')
    out.append(f'<text x="{bx + 20}" y="{top + h}">{lo:.3g}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")

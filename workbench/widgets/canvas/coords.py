"""Coordinates of the click-to-prompt canvas: browser (CSS) pixels, canvas pixels, image pixels.

How the canvas is set up
------------------------
:class:`~workbench.widgets.canvas.prompt_canvas.PromptCanvas` keeps its ``ipycanvas.MultiCanvas`` at the
image's **native resolution** (``canvas.width == W``, ``canvas.height == H``) and only changes
its CSS size (``canvas.layout.width / height``) to zoom. The browser scales the bitmap; the
drawing commands and the event coordinates stay in canvas pixels.

How ipycanvas reports mouse positions (ipycanvas 0.14, ``CanvasView.getCoordinates`` in the
nbextension / labextension bundle; ``MultiCanvasView`` extends it)::

    rect = canvas.getBoundingClientRect()               // CSS pixels on screen
    x = canvas.width  * (event.clientX - rect.left) / rect.width
    y = canvas.height * (event.clientY - rect.top)  / rect.height

so the ``x, y`` a ``mouse_down`` message carries are continuous **canvas pixel** coordinates
whatever the CSS size: with the canvas at native resolution they are image pixel coordinates
already. :func:`client_to_canvas` is that formula; :func:`canvas_to_image` snaps a position to
the pixel under it (``floor``: pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``),
which is the integer ``x, y`` a prompt is recorded at (SAM ``point_coords`` order: x = column,
y = row, as the click simulator of :mod:`workbench.protocols.clicks` produces them).
:func:`image_to_canvas` gives the centre of a pixel (where its marker is drawn) and
:func:`image_to_client` the CSS offset to click to hit a pixel at a given zoom.
"""

from __future__ import annotations

import math

from ...errors import PromptError

_EPS = 1e-6
"""Tolerance for floating-point error of the browser's scaling (a click at the exact left edge
of pixel 3 computed as 2.9999999 still lands on pixel 3)."""


def client_to_canvas(
    u: float, v: float, css_width: float, css_height: float, canvas_width: int, canvas_height: int
) -> tuple[float, float]:
    """Browser event offset -> canvas pixel coordinates, as ipycanvas' ``getCoordinates`` does.

    Parameters
    ----------
    u, v : float
        ``event.clientX - rect.left`` and ``event.clientY - rect.top``: CSS pixels from the
        canvas's top-left corner on screen.
    css_width, css_height : float
        The canvas's on-screen size (``getBoundingClientRect``), CSS pixels.
    canvas_width, canvas_height : int
        The canvas bitmap size (``canvas.width`` / ``canvas.height``), pixels.

    Returns
    -------
    (x, y) : float
        Continuous canvas pixel coordinates (x = column axis, y = row axis).
    """
    return canvas_width * u / css_width, canvas_height * v / css_height


def canvas_to_image(x: float, y: float, width: int, height: int) -> tuple[int, int]:
    """Canvas event coordinates -> the image pixel under them, SAM order ``(x, y)`` = (column, row).

    The canvas is at the image's native resolution, so this only snaps to the pixel grid
    (``floor``) and checks the bounds.

    Parameters
    ----------
    x, y : float
        Canvas pixel coordinates from an ipycanvas mouse event.
    width, height : int
        Image size W, H in pixels.

    Returns
    -------
    (col, row) : int

    Raises
    ------
    PromptError
        Not finite numbers, or outside the image (``0 <= x < W``, ``0 <= y < H``).
    """
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"Mouse position must be numbers (canvas pixels); got x={x!r}, y={y!r}.") from exc
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise PromptError(f"Mouse position must be finite; got x={fx}, y={fy}.")
    col, row = math.floor(fx + _EPS), math.floor(fy + _EPS)
    if not (0 <= col < width and 0 <= row < height):
        raise PromptError(
            f"Click at (x={fx:g}, y={fy:g}) lies outside the {width}x{height} (WxH) image: "
            f"click inside 0 <= x < {width}, 0 <= y < {height}."
        )
    return col, row


def clamp_to_image(x: float, y: float, width: int, height: int) -> tuple[int, int]:
    """Like :func:`canvas_to_image` but moves a position outside the image onto its border
    (used for the end of a box drag that left the canvas). Returns ``(col, row)`` ints."""
    col = min(max(math.floor(float(x) + _EPS), 0), width - 1)
    row = min(max(math.floor(float(y) + _EPS), 0), height - 1)
    return col, row


def image_to_canvas(col: float, row: float) -> tuple[float, float]:
    """Image pixel ``(col, row)`` -> canvas coordinates of its centre ``(col + 0.5, row + 0.5)``
    (where markers are drawn; :func:`canvas_to_image` maps it back to ``(col, row)``)."""
    return float(col) + 0.5, float(row) + 0.5


def image_to_client(col: float, row: float, zoom: float) -> tuple[float, float]:
    """CSS offset from the canvas's top-left corner of the centre of image pixel ``(col, row)``
    when the canvas is shown at ``zoom`` (CSS pixels per image pixel)."""
    x, y = image_to_canvas(col, row)
    return x * zoom, y * zoom


__all__ = ["canvas_to_image", "clamp_to_image", "client_to_canvas", "image_to_canvas", "image_to_client"]

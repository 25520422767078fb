//! Text on charts, set glyph by glyph with the font's own metrics: each glyph at its pen
//! position plus its side bearing, kerned, anti-aliased at sub-pixel positions. plotters'
//! own ab_glyph text drops the side bearings, so the letters of a label sat unevenly.
//!
//! [`Typeset`] wraps any plotters backend: shapes go to it unchanged, text is drawn here.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// A backend whose text is set with `font`.
pub struct Typeset<B> {
    inner: B,
    font: FontRef<'static>,
}

impl<B: DrawingBackend> Typeset<B> {
    /// `font`: an OpenType or TrueType font's bytes (the chart embeds DejaVu Sans).
    pub fn new(inner: B, font: &'static [u8]) -> Result<Self, ab_glyph::InvalidFont> {
        Ok(Self {
            inner,
            font: FontRef::try_from_slice(font)?,
        })
    }

    /// Each glyph of `text` at `size` pixels with its pen position, and the line's width and
    /// height (ascent to descent).
    fn layout(&self, text: &str, size: f64) -> (Vec<(GlyphId, f32)>, f32, f32) {
        let font = self.font.as_scaled(PxScale::from(size as f32));
        let mut pen = 0.0f32;
        let mut previous: Option<GlyphId> = None;
        let glyphs = text
            .chars()
            .map(|c| {
                let id = font.glyph_id(c);
                if let Some(before) = previous {
                    pen += font.kern(before, id);
                }
                let at = pen;
                pen += font.h_advance(id);
                previous = Some(id);
                (id, at)
            })
            .collect();
        (glyphs, pen, font.ascent() - font.descent())
    }
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (_, width, height) = self.layout(text, style.size());
        Ok((width.ceil() as u32, height.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, width, height) = self.layout(text, style.size());
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let font = self.font.as_scaled(PxScale::from(style.size() as f32));
        let (canvas_w, canvas_h) = self.inner.get_size();
        let mut coverage: Vec<(i32, i32, f32)> = Vec::new();
        for (id, pen) in glyphs {
            let glyph = id.with_scale_and_position(
                font.scale(),
                ab_glyph::point(pen + dx, font.ascent() + dy),
            );
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|x, y, c| {
                let x = bounds.min.x as i32 + x as i32;
                let y = bounds.min.y as i32 + y as i32;
                coverage.push((x, y, c));
            });
        }
        for (x, y, c) in coverage {
            let (x, y) = transform.transform(x, y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if c > 0.0 && x >= 0 && y >= 0 && (x as u32) < canvas_w && (y as u32) < canvas_h {
                let shade = BackendColor {
                    alpha: color.alpha * f64::from(c.min(1.0)),
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), shade)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

    /// The columns between glyphs that hold no ink, for a line of text.
    fn ink_columns(text: &str) -> Vec<bool> {
        let (w, h) = (400u32, 40u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        {
            let backend =
                Typeset::new(BitMapBackend::with_buffer(&mut buffer, (w, h)), FONT).unwrap();
            let root = backend.into_drawing_area();
            root.draw(&Text::new(text, (4, 4), ("sans-serif", 20)))
                .unwrap();
            root.present().unwrap();
        }
        (0..w)
            .map(|x| (0..h).any(|y| buffer[((y * w + x) * 3) as usize] < 128))
            .collect()
    }

    /// The first column of each inked run (each letter, when letters do not touch).
    fn run_starts(columns: &[bool]) -> Vec<usize> {
        (0..columns.len())
            .filter(|x| columns[*x] && (*x == 0 || !columns[x - 1]))
            .collect()
    }

    #[test]
    fn each_letter_starts_at_its_pen_position_plus_its_side_bearing() {
        let font = FontRef::try_from_slice(FONT).unwrap();
        let font = font.as_scaled(PxScale::from(20.0));
        for text in ["Wil", "hours", "Tilt"] {
            let mut pen = 4.0;
            let mut previous = None;
            let mut expected = Vec::new();
            for c in text.chars() {
                let id = font.glyph_id(c);
                if let Some(before) = previous {
                    pen += font.kern(before, id);
                }
                expected.push(pen + font.h_side_bearing(id));
                pen += font.h_advance(id);
                previous = Some(id);
            }
            let starts = run_starts(&ink_columns(text));
            assert_eq!(starts.len(), expected.len(), "{text}: {starts:?}");
            for (start, want) in starts.iter().zip(&expected) {
                assert!(
                    (*start as f32 - want).abs() <= 1.0,
                    "{text}: letters begin at {starts:?}, the font puts them at {expected:?}"
                );
            }
        }
    }
}

//! What an uploaded banner may be: a PNG, JPEG, GIF or WebP image, told by its first bytes (never
//! by what the upload claims). SVG is refused: it is a document that can carry script.

/// An image type we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }

    /// Reads a stored media type back.
    pub fn from_content_type(raw: &str) -> Option<Self> {
        [ImageType::Png, ImageType::Jpeg, ImageType::Gif, ImageType::Webp].into_iter().find(|t| t.content_type() == raw)
    }
}

/// Why an upload is not an image we take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefusal {
    #[error("SVG is refused (it can carry script): upload a PNG, JPEG, GIF or WebP")]
    Svg,
    #[error("this is not a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
    #[error("the image is larger than {0} bytes")]
    TooLarge(usize),
}

/// The type of `bytes` if it is an image we take, at most `max_bytes` long.
pub fn sniff(bytes: &[u8], max_bytes: usize) -> Result<ImageType, ImageRefusal> {
    if bytes.len() > max_bytes {
        return Err(ImageRefusal::TooLarge(max_bytes));
    }
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Ok(ImageType::Png),
        [0xFF, 0xD8, 0xFF, ..] => Ok(ImageType::Jpeg),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Ok(ImageType::Gif),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Ok(ImageType::Webp),
        _ if looks_like_markup(bytes) => Err(ImageRefusal::Svg),
        _ => Err(ImageRefusal::NotAnImage),
    }
}

fn looks_like_markup(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    head.trim_start_matches('\u{feff}').trim_start().starts_with('<') && head.contains("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_first_bytes_and_svg_is_refused() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 100), Ok(ImageType::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF", 100), Ok(ImageType::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0", 100), Ok(ImageType::Gif));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 ", 100), Ok(ImageType::Webp));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg onload=\"alert(1)\"></svg>", 100), Err(ImageRefusal::Svg));
        assert_eq!(sniff(b"<html><script>", 100), Err(ImageRefusal::NotAnImage));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 8), Err(ImageRefusal::TooLarge(8)));
        assert_eq!(ImageType::from_content_type("image/gif"), Some(ImageType::Gif));
    }
}

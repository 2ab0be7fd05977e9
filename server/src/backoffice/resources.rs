//! Promotional resources: banners (an uploaded PNG, JPEG, GIF or WebP of bounded size, or an
//! image hosted elsewhere) and copy, per program, each pointing at one of the program's open
//! links. Partners get them with their own tracking link already inside, as HTML to copy.

use super::admin::{invalid, name, parse_destination, program_code, AdminError};
use super::report::{link_url, may_use};
use crate::domain::image::{sniff, ImageRefusal};
use crate::store::{NewResource, Resource, Store};
use base64::Engine;
use reftrack_protocol::LinkCode;
use serde::{Deserialize, Serialize};

/// The largest uploaded banner.
pub const MAX_IMAGE_BYTES: usize = 256 * 1024;

/// A resource as given (an uploaded image comes base64-encoded, as `FileReader` gives it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceInput {
    pub program: String,
    /// `banner` or `text`.
    pub kind: String,
    pub title: String,
    pub link: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub alt: String,
    #[serde(default)]
    pub image_url: Option<String>,
    /// The image's bytes in base64 (a `data:image/…;base64,` prefix is allowed).
    #[serde(default)]
    pub image_base64: Option<String>,
}

/// Checks and stores a resource.
pub async fn add(store: &Store, input: ResourceInput, now_ms: i64) -> Result<Resource, AdminError> {
    let program = program_code("program", &input.program)?;
    if store.program(program.as_str()).await?.is_none() {
        return Err(AdminError::Unknown { field: "program", what: format!("program {program}") });
    }
    let title = name("title", &input.title, "")?;
    if title.is_empty() {
        return Err(invalid("title", "give it a title partners recognise"));
    }
    let link = LinkCode::parse(input.link.trim()).map_err(|e| invalid("link", e.to_string()))?;
    let Some(found) = store.link(link.as_str()).await? else {
        return Err(AdminError::Unknown { field: "link", what: format!("link {link}") });
    };
    if found.partner.is_some() || !(found.programs.is_empty() || found.programs.contains(&program)) {
        return Err(invalid("link", format!("link {link} is not open to every partner of {program}: choose one that is")));
    }
    let alt = name("alt", &input.alt, "")?;
    let (body, image_url, image) = match input.kind.trim() {
        "text" => {
            let body = input.text.trim();
            if body.is_empty() || body.chars().count() > 5000 || body.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
                return Err(invalid("text", "give the copy, at most 5000 characters ({link} marks where the partner's link goes)"));
            }
            (body.to_owned(), None, None)
        }
        "banner" => match (
            input.image_base64.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            input.image_url.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        ) {
            (Some(data), None) => {
                let data = data.split_once(";base64,").map_or(data, |(_, rest)| rest);
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|_| invalid("image", "the image could not be read (send its bytes in base64)"))?;
                let kind = sniff(&bytes, MAX_IMAGE_BYTES).map_err(|e| match e {
                    ImageRefusal::TooLarge(max) => invalid("image", format!("the image is larger than {} KiB", max / 1024)),
                    other => invalid("image", other.to_string()),
                })?;
                (String::new(), None, Some((bytes, kind.content_type().to_owned())))
            }
            (None, Some(url)) => {
                let url = parse_destination(url).map_err(|_| invalid("image_url", "must be an http(s) address of the image"))?;
                if url.to_ascii_lowercase().split(['?', '#']).next().is_some_and(|path| path.ends_with(".svg")) {
                    return Err(invalid("image_url", "SVG is refused (it can carry script): link a PNG, JPEG, GIF or WebP"));
                }
                (String::new(), Some(url), None)
            }
            (Some(_), Some(_)) => return Err(invalid("image", "upload an image or link one, not both")),
            (None, None) => return Err(invalid("image", "upload the banner's image (PNG, JPEG, GIF or WebP) or give its address")),
        },
        other => return Err(invalid("kind", format!("must be banner or text, not {other:?}"))),
    };
    let new = NewResource { program, kind: input.kind.trim().to_owned(), title, link, body, alt, image_url, image };
    Ok(store.add_resource(&new, now_ms).await?)
}

/// Removes a resource.
pub async fn delete(store: &Store, id: i64) -> Result<(), AdminError> {
    match store.delete_resource(id).await {
        Err(crate::store::DbError::NotFound(_)) => Err(AdminError::Missing(format!("resource {id}"))),
        other => Ok(other?),
    }
}

/// A resource as a partner gets it: their link inside, as HTML and as plain text.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerResource {
    pub id: i64,
    pub program: reftrack_protocol::ProgramCode,
    pub kind: String,
    pub title: String,
    /// The partner's own tracking URL the resource points at.
    pub url: String,
    /// The banner's image address, for a preview.
    pub image_src: Option<String>,
    /// The copy with the partner's URL inside (text resources).
    pub text: String,
    /// Ready to paste into a web page.
    pub html: String,
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The address of an uploaded resource image.
pub fn image_address(base: &str, id: i64) -> String {
    format!("{}/v1/resources/{id}/image", base.trim_end_matches('/'))
}

/// The resource for `partner`, with their URL for its link inside.
pub fn for_partner(r: &Resource, url: &str, base: &str) -> PartnerResource {
    let image_src = if r.uploaded { Some(image_address(base, r.id)) } else { r.image_url.clone() };
    let (text, html) = match r.kind.as_str() {
        "banner" => {
            let src = image_src.clone().unwrap_or_default();
            (
                String::new(),
                format!("<a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a>", escape_html(url), escape_html(&src), escape_html(&r.alt)),
            )
        }
        _ => {
            let anchor = format!("<a href=\"{0}\">{0}</a>", escape_html(url));
            let (text, html) = if r.body.contains("{link}") {
                let html = r.body.split("{link}").map(escape_html).collect::<Vec<_>>().join(&anchor);
                (r.body.replace("{link}", url), html)
            } else {
                (format!("{} {url}", r.body), format!("{} {anchor}", escape_html(&r.body)))
            };
            let html = format!("<p>{}</p>", html.replace("\r\n", "\n").replace('\n', "<br>\n"));
            (text, html)
        }
    };
    PartnerResource {
        id: r.id,
        program: r.program.clone(),
        kind: r.kind.clone(),
        title: r.title.clone(),
        url: url.to_owned(),
        image_src,
        text,
        html,
    }
}

/// The resources of a partner's programs whose link they may use.
pub async fn partner_resources(store: &Store, code: &str, base: &str) -> Result<Option<Vec<PartnerResource>>, AdminError> {
    let Some(p) = store.partner(code).await? else { return Ok(None) };
    let links = store.links().await?;
    let mut out = Vec::new();
    for r in store.resources().await?.into_iter().filter(|r| p.programs.contains(&r.program)) {
        let Some(link) = links.iter().find(|l| l.code == r.link).filter(|l| may_use(l, &p.code, &p.programs)) else { continue };
        out.push(for_partner(&r, &link_url(base, link, &p.code), base));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: &str, body: &str) -> Resource {
        Resource {
            id: 7,
            program: reftrack_protocol::ProgramCode::parse("vip").unwrap(),
            kind: kind.into(),
            title: "Spring".into(),
            link: LinkCode::parse("spring").unwrap(),
            body: body.into(),
            alt: "Our \"best\" course".into(),
            image_url: None,
            uploaded: true,
            content_type: Some("image/png".into()),
            created_at_ms: 0,
        }
    }

    #[test]
    fn a_partners_link_is_put_inside_each_resource_and_the_rest_is_escaped() {
        let url = "https://t.example/go/spring?aff=jane";
        let banner = for_partner(&resource("banner", ""), url, "https://t.example");
        assert_eq!(
            banner.html,
            "<a href=\"https://t.example/go/spring?aff=jane\"><img src=\"https://t.example/v1/resources/7/image\" alt=\"Our &quot;best&quot; course\"></a>"
        );
        let text = for_partner(&resource("text", "Try <this>: {link}\nSee you"), url, "https://t.example");
        assert_eq!(text.text, "Try <this>: https://t.example/go/spring?aff=jane\nSee you");
        assert_eq!(
            text.html,
            "<p>Try &lt;this&gt;: <a href=\"https://t.example/go/spring?aff=jane\">https://t.example/go/spring?aff=jane</a><br>\nSee you</p>"
        );
        let appended = for_partner(&resource("text", "A great course."), url, "https://t.example");
        assert_eq!(appended.text, "A great course. https://t.example/go/spring?aff=jane");
    }
}

//! `reftrack demo`: seeds a demo program, partners and links (once), then serves and prints
//! where to start.

use crate::backoffice::admin::{self, AdminError, LinkInput, PartnerInput, ProductInput, ProgramInput};
use crate::clock::Clock;
use crate::configuration::{DatabaseArgs, ServeArgs, Settings};
use crate::startup::{shutdown_signal, Application};
use crate::store::{KeyGrant, Store};
use reftrack_protocol::PartnerCode;

/// The demo's signing secret when none is configured, so `/v1/orders` can be tried with a known
/// secret. Never use it in production.
pub const DEMO_SIGNING_SECRET: &str = "whsec_ZGVtby1vbmx5LXNpZ25pbmctc2VjcmV0LTAwMDA=";

fn ignore_exists<T>(r: Result<T, AdminError>) -> anyhow::Result<()> {
    match r {
        Ok(_) | Err(AdminError::Taken { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Seeds the demo records; running it twice changes nothing.
pub async fn seed(store: &Store, public_url: &str, now_ms: i64) -> anyhow::Result<()> {
    let program = ProgramInput {
        code: "standard".into(),
        name: "Standard partners".into(),
        rate_bps: 3000,
        flat_minor: None,
        window_days: 60,
        pixel_commission: false,
        lead_rate_bps: Some(500),
        lead_flat_minor: None,
        tier2_bps: 1000,
        tier3_bps: 0,
        recurring: "first:12".into(),
        hold_days: 30,
    };
    ignore_exists(admin::add_program(store, program, now_ms).await)?;
    ignore_exists(
        admin::set_product(
            store,
            "standard",
            ProductInput { sku: "ebook".into(), rate_bps: Some(5000), flat_minor: None, owner: None, owner_bps: None },
        )
        .await,
    )?;
    // John joined through Jane, so she earns the tier-2 rate on his sales.
    for (code, name, parent) in [("jane", "Jane Partner", None), ("john", "John Partner", Some("jane"))] {
        let partner = PartnerInput {
            code: code.into(),
            name: name.into(),
            email: format!("{code}@partners.example"),
            parent: parent.map(str::to_owned),
            programs: vec!["standard".into()],
        };
        ignore_exists(admin::add_partner(store, partner, now_ms).await)?;
    }
    let link = LinkInput {
        code: "demo".into(),
        name: "Demo landing page".into(),
        destination: format!("{}/demo/landing.html", public_url.trim_end_matches('/')),
        partner: None,
        programs: vec!["standard".into()],
    };
    ignore_exists(admin::add_link(store, link, now_ms).await)?;
    Ok(())
}

/// Seeds, then serves until stopped.
pub async fn run(args: &ServeArgs, db: &DatabaseArgs) -> anyhow::Result<()> {
    let mut args = args.clone();
    if args.signing_secrets.is_empty() {
        args.signing_secrets = vec![DEMO_SIGNING_SECRET.to_owned()];
    }
    if args.metrics_token.is_none() {
        args.metrics_token = Some(crate::backoffice::keys::new_key("rtmet"));
    }
    let mut settings = Settings::from_args(&args, db)?;
    settings.demo = true;
    let app = Application::build(settings.clone()).await?;
    // Without a public URL, the demo lives where it is bound (port 0 picks a free one).
    let origin = match &args.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}", app.local_addr()),
    };
    let base = format!("{origin}{}", settings.base_path);
    let store = app.store().clone();
    let now = Clock::system().now_ms();
    seed(&store, &base, now).await?;
    let (admin_key, admin_view) = match &settings.admin_key {
        Some(_) => ("(your REFTRACK_ADMIN_KEY)".to_owned(), format!("{base}/admin/ (sign in with your REFTRACK_ADMIN_KEY)")),
        None => {
            let key = admin::issue_key(&store, KeyGrant::Admin, now).await?.1;
            let view = format!("{base}/admin/#key={key}");
            (key, view)
        }
    };
    let jane = admin::issue_key(&store, KeyGrant::Partner(PartnerCode::parse("jane")?), now).await?.1;
    println!("reftrack listening on http://{}", app.local_addr());
    println!(
        "\nreftrack demo is running (database {db})\n\n  Open first:              {base}/demo/\n  Jane's link:             {base}/go/demo?aff=jane&sid=newsletter\n  Jane's partner center:   {base}/partner/#token={jane}\n  Merchant's partner view: {admin_view}\n  Admin API key:           {admin_key}\n  Metrics:                 curl -H 'Authorization: Bearer {metrics}' {base}/metrics\n\nStop with Ctrl-C.\n",
        db = crate::configuration::redact(&settings.database_url),
        metrics = settings.metrics_token.as_deref().unwrap_or_default()
    );
    app.run_until(shutdown_signal()).await
}

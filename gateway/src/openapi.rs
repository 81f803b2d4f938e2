//! The OpenAPI document, generated from the handlers' annotations and the request and
//! answer types: `/openapi.json`.

use crate::{operator, player};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "croupier",
        description = "Bet acceptance and settlement.\n\n\
            Operator endpoints are signed. Send X-Croupier-Timestamp: the current Unix time in \
            milliseconds (ASCII digits), and X-Croupier-Signature: \
            hex(HMAC-SHA256(operator key, METHOD + \"\\n\" + PATH_AND_QUERY + \"\\n\" + \
            TIMESTAMP + \"\\n\" + BODY)), where METHOD is e.g. POST, PATH_AND_QUERY the request \
            target exactly as sent (e.g. /api/deposit), TIMESTAMP the header's value byte for \
            byte and BODY the raw body bytes; no trailing newline. A timestamp more than 5 \
            minutes from the server clock is refused (401 STALE_TIMESTAMP); a missing or \
            non-numeric header 401 UNAUTHORIZED; a wrong mac 401 BAD_SIGNATURE. Request bodies \
            refuse unknown fields (400 INVALID_REQUEST).\n\n\
            Player endpoints take Authorization: Bearer <token> from POST /api/sessions \
            (revoked by POST /api/sessions/revoke: 401 TOKEN_REVOKED). Amounts are decimal \
            strings (\"10.50\"). Every error is {\"code\", \"message\"}; BUSY (503) adds \
            retry_after_ms. Push: WebSocket /ws, authenticated by the Authorization header at \
            the upgrade or a first message {\"op\":\"auth\",\"token\":\"...\"} (see the README)."
    ),
    paths(
        operator::game_event,
        operator::drawresult,
        operator::cancel,
        operator::resettle,
        operator::recalculate_bets,
        operator::deposit,
        operator::withdraw,
        operator::sessions,
        operator::revoke,
        operator::check_bet,
        operator::block_funds,
        operator::update_bet_status,
        operator::refund,
        operator::recalculate_bet,
        player::bet,
        player::balance,
        player::my_bets,
        player::my_bet,
        player::round,
        player::send_packet,
        player::grab,
        player::packet,
        crate::instant::seeds,
        crate::instant::rotate,
        crate::instant::history,
        crate::instant::bet,
        crate::instant::reveal,
        crate::instant::cash_out,
        crate::instant::settle,
        crate::instant::hit,
        crate::instant::stand,
        crate::instant::double,
        crate::instant::split,
        crate::instant::insurance,
        crate::instant::refund,
        crate::instant::games,
        crate::activity::recent,
        crate::instant::verify,
        crate::crash::create_channel,
        crate::crash::pause,
        crate::crash::resume,
        crate::crash::start_term,
        crate::crash::emergency_stop,
        crate::crash::channel,
        crate::crash::terms,
        crate::crash::bet,
        crate::crash::cancel,
        crate::crash::cashout,
        crate::crash::my_bet,
        crate::healthz,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "operator", description = "Signed with the operator key"),
        (name = "player", description = "Bearer session token"),
        (name = "instant", description = "Instant games (seed 003): provably fair, Stake-compatible"),
        (name = "crash", description = "The crash game (seed 001): terms run by themselves; bustabit-verifiable crash points"),
        (name = "service", description = "Health"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Croupier-Signature",
                "hex(HMAC-SHA256(operator key, METHOD \\n PATH_AND_QUERY \\n TIMESTAMP \\n BODY))",
            ))),
        );
        components.add_security_scheme(
            "operator_timestamp",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Croupier-Timestamp",
                "Unix milliseconds, within 5 minutes of the server clock; signed",
            ))),
        );
        components.add_security_scheme(
            "player_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON.
pub fn json() -> String {
    ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into())
}

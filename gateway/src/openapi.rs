//! The OpenAPI document, generated from the handlers' annotations and the request and
//! answer types: `/openapi.json`.

use crate::{operator, player};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "croupier",
        description = "Bet acceptance and settlement. Operator endpoints are signed: \
            X-Croupier-Signature = hex(HMAC-SHA256(operator key, request body)). Player endpoints \
            take Authorization: Bearer <token> from POST /api/sessions. Amounts are decimal \
            strings (\"10.50\"). Every error is {\"code\", \"message\"}; BUSY (503) adds \
            retry_after_ms. Push: WebSocket /ws (see the README)."
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
        crate::healthz,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "operator", description = "Signed with the operator key"),
        (name = "player", description = "Bearer session token"),
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
                "hex(HMAC-SHA256(operator key, body))",
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

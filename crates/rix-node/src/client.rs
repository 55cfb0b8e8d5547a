//! The CLI's way to a running daemon: [`connect`] finds the daemon of a config and returns its
//! API client (`rix_api::ApiClient`), or `None` when no daemon runs.

use rix_api::ApiClient;

use crate::config::LoadedConfig;
use crate::error::NodeError;

/// The running daemon of `config`, if any: `None` when there is no API token file or nothing
/// answers on the API address.
pub fn connect(config: &LoadedConfig) -> Result<Option<ApiClient>, NodeError> {
    Ok(ApiClient::connect(config.config.api.listen, &config.api_token_path())?)
}

//! `--target local` for the tests: the embedded emulator, handed to the run as the CLI hands it.

use cma_emulator::{Emulator, EmulatorConfig};
use cma_scenario::{LocalServer, LocalTarget};

pub fn embedded() -> Option<LocalTarget> {
    Some(LocalTarget::new(|| async {
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(LocalServer::new(emulator.base_url(), emulator.shutdown()))
    }))
}

//! The blocking transport: one `std::net` connection per lane, handlers called inline, one
//! invocation at a time. It is a loop around the driver's verbs and nothing else.

use std::time::Duration;

use lamina_core::{Action, Config, Connection, Driver, Reading};

use crate::handler::Handler;
use crate::sigterm;
use crate::transport::{
    App, Fed, LaneBuf, Transport, clock, connect, encode, encode_bug, grow, read_some,
};

/// How long a blocking read or pause lasts at most before the loop looks at the time and at
/// SIGTERM again (DESIGN: exit within 500 ms of SIGTERM when no handler runs).
const TICK: Duration = Duration::from_millis(200);

/// The blocking `std::net` transport (the default of [`Runtime`](crate::Runtime)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

impl Transport for Blocking {
    fn max_lanes(_: &Config) -> usize {
        1
    }

    fn drive<H: Handler>(driver: &mut Driver<'_>, app: &mut App<H>) -> i32 {
        let mut lanes: Vec<LaneBuf> = (0..driver.lanes()).map(|_| LaneBuf::new(driver)).collect();
        let mut terminated = false;
        loop {
            if !terminated && sigterm::requested() {
                terminated = true;
                driver.shutdown(clock());
            }
            while let Some(action) = driver.poll_action() {
                match action {
                    Action::Invoke { lane, event } => {
                        if let Some(buf) = lanes.get_mut(lane) {
                            app.invoke(driver, lane, event, buf);
                        }
                    }
                    action => {
                        let Some(lane0) = lanes.first_mut() else {
                            return 1;
                        };
                        if let Some(code) = app.act(driver, action, &mut lane0.out) {
                            return code;
                        }
                    }
                }
            }
            for (lane, buf) in lanes.iter_mut().enumerate() {
                send_due(driver, app, lane, buf);
            }
            match (driver.reading(0), lanes.first_mut()) {
                (Reading::Event | Reading::Reply, Some(buf)) => {
                    if read_some(driver, 0, buf, clock) == Fed::Pending {
                        driver.handle_timeout(clock());
                    }
                }
                _ => {
                    // Nothing to read: wait for the next timer (a pause before a retry).
                    let now = clock();
                    let wait = driver
                        .poll_timeout()
                        .map_or(TICK, |at| at.duration_from(now).min(TICK));
                    std::thread::sleep(wait);
                    driver.handle_timeout(clock());
                }
            }
        }
    }
}

/// Writes every request due on `lane`, opening a connection where the driver says.
fn send_due<H: Handler>(driver: &mut Driver<'_>, app: &mut App<H>, lane: usize, buf: &mut LaneBuf) {
    loop {
        let now = clock();
        let t = match encode(&mut buf.out, |o| {
            driver.poll_transmit(lane, now, o).map_err(grow)
        }) {
            Some(Some(t)) => t,
            Some(None) => return,
            None => return encode_bug("a request"),
        };
        if t.connection == Connection::New || buf.conn.is_none() {
            buf.conn = None;
            buf.filled = 0;
            let opened = connect(&driver.config().endpoint)
                .and_then(|s| s.set_read_timeout(Some(TICK)).map(|()| s));
            match opened {
                Ok(s) => buf.conn = Some(s),
                Err(e) => {
                    app.last_error = Some(e);
                    driver.connect_failed(lane, now);
                    continue;
                }
            }
        }
        match buf.write_request(t.len, t.body, &mut 0) {
            Ok(true) => driver.transmitted(lane, now),
            Ok(false) | Err(_) => {
                buf.conn = None;
                driver.connection_lost(lane, now);
            }
        }
    }
}

//! The client: the course's workload of reads and writes, one at a time,
//! all sent to the primary.
//!
//! The client knows nothing of the backups. That is the promise of
//! primary-backup replication: to its clients the replicated store looks
//! like one server, and a `WRITE_REP` means the write is on every replica.
//!
//! Requests are drawn exactly as in hw2 (see [`draw_request`]), and each is
//! sent again until its reply comes ([`handout::net::ask`]). Every write
//! carries a fresh random value, and that is what makes retransmission
//! safe here: the primary and the backups recognise the copies of a write
//! by its sender, key and value (see [`crate::writes`]).

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use handout::net::{Answer, Endpoint, Retry, StopSignals, Stray, ask, check_reply};
use handout::{GOODBYE, Message, MsgType, Rng, generate_key, generate_value, seed_from_clock};

use crate::cli::ClientArgs;

/// The reply to a request, and how many bytes it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply, decoded.
    pub message: Message,
    /// The length of the datagram it came in: 17 or 33.
    pub len: usize,
}

/// Runs the client: sends `args.count` random requests to the primary, one
/// at a time, and prints each request and its reply.
///
/// # Errors
///
/// `no reply to request <n> from the primary (port <P>) after <T> tries;
/// giving up` when a request goes unanswered; any error of `socket(2)`,
/// `bind(2)`, `sendto(2)`, `poll(2)` or `recvfrom(2)`. SIGINT or SIGTERM is
/// not an error: the goodbye lines are printed and the result is `Ok`.
pub fn run(args: &ClientArgs) -> Result<(), Box<dyn Error>> {
    let stop = StopSignals::install()?;
    let seed = args.seed.unwrap_or_else(seed_from_clock);
    // On stderr, so that stdout stays the course's transcript, and a run
    // with surprising requests can be replayed with --seed.
    eprintln!("client: seed {seed}");

    let primary = SocketAddrV4::new(Ipv4Addr::LOCALHOST, args.primary_port);
    let endpoint = Endpoint::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    let retry = Retry {
        timeout: Duration::from_millis(u64::from(args.timeout_ms)),
        tries: args.tries,
    };
    let mut rng = Rng::new(seed);

    for id in 0..args.count {
        let request = draw_request(&mut rng, args.keys);
        // The course's transcript, printed before the request goes out.
        println!("Request ID: {id}");
        println!("Sent bytes: {}", request.encode().len());
        println!("{request}");

        match exchange(&endpoint, &stop, &request, primary, retry)? {
            Answer::Reply(reply) => {
                println!("Received bytes: {}", reply.len);
                println!("{}", reply.message);
                println!();
            }
            Answer::Stopped(_) => {
                println!();
                println!("{GOODBYE}");
                return Ok(());
            }
            Answer::GaveUp => {
                return Err(format!(
                    "no reply to request {id} from the primary (port {}) after {} tries; giving up",
                    primary.port(),
                    retry.tries
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The next request of a run, drawn from `rng` in the order of hw2, so that
/// a seed gives the same requests in any language:
///
/// 1. `rng.below(2)`: 1 is a write, 0 a read;
/// 2. the key, `generate_key(rng, keys)`;
/// 3. for a write only, the value, `generate_value(rng)`.
///
/// # Panics
///
/// If `keys` is 0: there is no key to draw.
pub fn draw_request(rng: &mut Rng, keys: u64) -> Message {
    let write = rng.below(2) == 1;
    let key = generate_key(rng, keys);
    let (kind, value) = if write {
        (MsgType::WriteReq, generate_value(rng))
    } else {
        (MsgType::ReadReq, String::new())
    };
    Message { kind, key, value }
}

/// The type of the reply that answers a request of type `kind`.
fn reply_kind(kind: MsgType) -> MsgType {
    match kind {
        MsgType::WriteReq => MsgType::WriteRep,
        _ => MsgType::ReadRep,
    }
}

/// Sends `request` to the primary and waits for its reply, sending it again
/// after each `retry.timeout`, `retry.tries` times in all. Only a datagram
/// from `primary`, of the request's reply type, with the request's key, is
/// the reply; anything else is reported on stderr and skipped.
///
/// # Errors
///
/// Whatever `sendto(2)`, `poll(2)` or `recvfrom(2)` reports.
pub fn exchange(
    endpoint: &Endpoint,
    stop: &StopSignals,
    request: &Message,
    primary: SocketAddrV4,
    retry: Retry,
) -> Result<Answer<Reply>, Box<dyn Error>> {
    let kinds = [reply_kind(request.kind)];
    let accept = |datagram: &[u8], from: SocketAddrV4| -> Result<Reply, Stray> {
        let message = check_reply(datagram, from, primary, &kinds, &request.key)?;
        Ok(Reply {
            message,
            len: datagram.len(),
        })
    };
    let answer = ask(
        endpoint,
        stop,
        &request.encode(),
        primary,
        retry,
        "client",
        accept,
    )?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use handout::DATASET_SIZE;

    /// The draw order is hw2's: seed 7 gives the requests of
    /// specs/protocol.md, section 7.
    #[test]
    fn seed_7_draws_the_documented_requests() {
        let mut rng = Rng::new(7);
        let lines: Vec<String> = (0..5)
            .map(|_| draw_request(&mut rng, DATASET_SIZE).to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "Type: WRITE_REQ Key: AAAAAAAAAAATqkp Value: AAAANlKCP4O0YAR",
                "Type: WRITE_REQ Key: AAAAAAAAAABH3oF Value: AAAAPnpc6vDfFyu",
                "Type: READ_REQ Key: AAAAAAAAAAAHZyn Value: ",
                "Type: READ_REQ Key: AAAAAAAAAAAKtTa Value: ",
                "Type: WRITE_REQ Key: AAAAAAAAAAAznOM Value: AAAAERdZxf6AsoO",
            ]
        );
    }

    /// Writes go out as 33 bytes and reads as 17, and each expects its own
    /// reply type.
    #[test]
    fn requests_have_the_courses_lengths() {
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            let request = draw_request(&mut rng, 10);
            let (len, reply) = match request.kind {
                MsgType::WriteReq => (33, MsgType::WriteRep),
                _ => (17, MsgType::ReadRep),
            };
            assert_eq!(request.encode().len(), len);
            assert_eq!(reply_kind(request.kind), reply);
        }
    }
}

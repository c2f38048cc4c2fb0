//! The votes of one request, and the decision they allow.
//!
//! Pure bookkeeping, with no sockets, so that every rule can be tested on
//! its own: the client feeds a [`Tally`] the replies it has already found
//! to be well-formed answers from a server (see
//! [`check_vote`](crate::client::check_vote)), and asks it after each one
//! whether it may decide.
//!
//! With `n` servers of which at most `f` lie, the quorum is `f + 1`:
//!
//! - **Decided** as soon as one value has `f + 1` votes. `f` liars cannot
//!   gather that many, so at least one honest server sent the value.
//! - **Undecidable** as soon as no value can reach `f + 1` any more: the
//!   value with the most votes, given every vote still missing, stays
//!   short. With `n = 2f + 1` this happens only when more than `f` servers
//!   are faulty (or more than `f` replies for one request never arrive).
//!
//! A server votes once. Its first reply is its vote; a second one, whether
//! the network duplicated it or the server sent it on purpose, is not
//! counted: otherwise one liar could fill the quorum alone.

/// What the votes allow the client to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `value` has a quorum: `votes` distinct servers sent it, at least
    /// `f + 1`.
    Decided {
        /// The value believed.
        value: String,
        /// How many distinct servers sent it, so far.
        votes: usize,
    },
    /// No value can reach `f + 1` votes, whatever the servers that have
    /// not answered yet say.
    Undecidable,
}

/// The votes of one request: which server sent which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    servers: usize,
    faults: usize,
    /// The counted replies, in the order they came: the server's number
    /// (its place in the client's list of ports) and the value it sent.
    votes: Vec<(usize, String)>,
}

impl Tally {
    /// An empty tally for `servers` servers, of which at most `faults` lie.
    ///
    /// # Panics
    ///
    /// If `servers < 2 * faults + 1`: then the liars could outvote the
    /// honest servers, and no decision would mean anything (the client's
    /// command line refuses it).
    pub fn new(servers: usize, faults: usize) -> Tally {
        assert!(
            servers > 2 * faults,
            "Tally::new: {servers} servers cannot outvote {faults} faulty ones"
        );
        Tally {
            servers,
            faults,
            votes: Vec::new(),
        }
    }

    /// How many votes a value needs: `f + 1`.
    pub fn quorum(&self) -> usize {
        self.faults + 1
    }

    /// Counts `value` as the vote of server number `server`, and says
    /// whether it counted: `false` when that server has voted already, and
    /// the tally is left as it was.
    pub fn record(&mut self, server: usize, value: &str) -> bool {
        // TODO: Count the vote, unless `server` has voted on this request
        //       already: then return false and change nothing. A server
        //       votes once, or one liar that answers twice is a quorum on
        //       its own.
        todo!("the tally")
    }

    /// Whether server number `server` has voted.
    pub fn has_voted(&self, server: usize) -> bool {
        self.votes.iter().any(|(voter, _)| *voter == server)
    }

    /// How many servers have voted.
    pub fn answered(&self) -> usize {
        self.votes.len()
    }

    /// How many servers have not voted yet.
    pub fn unanswered(&self) -> usize {
        self.servers.saturating_sub(self.answered())
    }

    /// How many servers voted for `value`.
    pub fn votes_for(&self, value: &str) -> usize {
        self.votes.iter().filter(|(_, v)| v == value).count()
    }

    /// The values voted for, each once, in the order of their first vote.
    pub fn values(&self) -> Vec<&str> {
        let mut values: Vec<&str> = Vec::new();
        for (_, value) in &self.votes {
            if !values.contains(&value.as_str()) {
                values.push(value);
            }
        }
        values
    }

    /// What the votes so far allow: [`Decision::Decided`] when a value has
    /// the quorum, [`Decision::Undecidable`] when none can reach it any
    /// more, `None` while the missing votes could still decide.
    pub fn decision(&self) -> Option<Decision> {
        // TODO: Decide as soon as the votes allow it: Decided when the
        //       value with the most votes has the quorum, Undecidable when
        //       even every missing vote could not bring it there, None
        //       while more votes could still change the answer.
        todo!("the decision")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUTH: &str = "DDDDCCCCBBBBAAA";
    const LIE: &str = "SSWUCSE";

    fn decided(value: &str, votes: usize) -> Option<Decision> {
        Some(Decision::Decided {
            value: value.to_string(),
            votes,
        })
    }

    /// The course's case: two honest servers agree, the liar is outvoted.
    #[test]
    fn two_of_three_decide() {
        let mut tally = Tally::new(3, 1);
        assert_eq!(tally.quorum(), 2);
        assert!(tally.record(2, LIE));
        assert_eq!(tally.decision(), None);
        assert!(tally.record(0, TRUTH));
        assert_eq!(tally.decision(), None, "one vote each: wait for the third");
        assert!(tally.record(1, TRUTH));
        assert_eq!(tally.decision(), decided(TRUTH, 2));
    }

    /// The decision comes with the quorum, before the last server answers.
    #[test]
    fn the_quorum_decides_without_the_rest() {
        let mut tally = Tally::new(3, 1);
        tally.record(0, TRUTH);
        tally.record(1, TRUTH);
        assert_eq!(tally.unanswered(), 1);
        assert_eq!(tally.decision(), decided(TRUTH, 2));
        tally.record(2, TRUTH);
        assert_eq!(tally.decision(), decided(TRUTH, 3));
    }

    /// A second reply from one server is not a second vote: a liar that
    /// answers twice stays one voice.
    #[test]
    fn a_server_votes_once() {
        let mut tally = Tally::new(3, 1);
        assert!(tally.record(2, LIE));
        assert!(!tally.record(2, LIE), "the second reply must not count");
        assert!(!tally.record(2, TRUTH), "nor a change of mind");
        assert_eq!(tally.votes_for(LIE), 1);
        assert_eq!(tally.votes_for(TRUTH), 0);
        assert_eq!(tally.answered(), 1);
        assert!(tally.has_voted(2) && !tally.has_voted(0));
        assert_eq!(tally.decision(), None);
        tally.record(0, TRUTH);
        tally.record(1, TRUTH);
        assert_eq!(tally.decision(), decided(TRUTH, 2));
    }

    /// Three different values from three servers: no value can reach two
    /// votes, and the tally says so as soon as the third arrives.
    #[test]
    fn three_different_values_are_undecidable() {
        let mut tally = Tally::new(3, 1);
        tally.record(0, "A");
        tally.record(1, "B");
        assert_eq!(tally.decision(), None, "server 2 could still agree");
        tally.record(2, "C");
        assert_eq!(tally.decision(), Some(Decision::Undecidable));
    }

    /// Five servers, two liars that agree: two votes are not enough, three
    /// honest ones are.
    #[test]
    fn five_servers_need_three_votes() {
        let mut tally = Tally::new(5, 2);
        assert_eq!(tally.quorum(), 3);
        tally.record(3, LIE);
        tally.record(4, LIE);
        assert_eq!(tally.decision(), None, "two liars are not a quorum");
        tally.record(0, TRUTH);
        tally.record(1, TRUTH);
        assert_eq!(tally.decision(), None);
        tally.record(2, TRUTH);
        assert_eq!(tally.decision(), decided(TRUTH, 3));
    }

    /// Undecidable as soon as the missing votes cannot help the leader,
    /// before everyone has answered.
    #[test]
    fn undecidable_before_everyone_answers() {
        let mut tally = Tally::new(5, 2);
        tally.record(0, "A");
        tally.record(1, "B");
        tally.record(2, "C");
        assert_eq!(tally.decision(), None, "A + 2 missing votes = 3");
        tally.record(3, "D");
        assert_eq!(tally.decision(), Some(Decision::Undecidable));
    }

    /// With no fault to tolerate, one vote decides; with nobody answering,
    /// there is nothing to say yet.
    #[test]
    fn edges() {
        let mut tally = Tally::new(1, 0);
        assert_eq!(tally.decision(), None);
        tally.record(0, TRUTH);
        assert_eq!(tally.decision(), decided(TRUTH, 1));
        assert_eq!(Tally::new(3, 1).decision(), None);
    }

    /// The values come in the order of their first vote.
    #[test]
    fn values_in_order_of_first_vote() {
        let mut tally = Tally::new(5, 2);
        tally.record(4, "B");
        tally.record(0, "A");
        tally.record(1, "B");
        assert_eq!(tally.values(), ["B", "A"]);
    }

    /// Fewer than 2f + 1 servers is a programming error.
    #[test]
    #[should_panic(expected = "cannot outvote")]
    fn too_few_servers_panics() {
        Tally::new(2, 1);
    }
}

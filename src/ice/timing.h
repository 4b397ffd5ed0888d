/* ICE timing defaults, each with its source. mc_ice_settings_default copies
 * them into the one settings struct an agent reads; nothing else in src/ice
 * hard-codes a time. */
#ifndef MC_ICE_TIMING_H
#define MC_ICE_TIMING_H

/* RFC 8445 14.2: Ta, the pacing of checks. The RFC default is 50 ms; with a
 * single stream (we run one stream with one component) it allows 5 ms. The
 * first check goes out when the first pair forms and triggered checks jump
 * the queue, so Ta spaces the ordinary checks of later pairs. A dual-stack
 * host with a STUN and a TURN server has about 6-12 pairs: at 5 ms a whole
 * list goes out within ~60 ms, about 100 bytes per check, 20 kB/s at most.
 * Measured with tests/lab + bench/ice_connect.sh, 5 runs each, start of
 * checks -> selected pair, median (range), controlling side:
 *            a-same-lan   b-eim (srflx)    d-symmetric (relay)
 *   Ta 5     1 (0-1)      6 (5-11)         112 (110-112)
 *   Ta 20    0 (0-1)      40 (20-41)       141 (141-143)
 *   Ta 50    0 (0-4)      51 (50-101)      200 (196-202)
 * (the relay figures include the relay grace below). All scenarios passed
 * at every Ta; 5 ms is the fastest the RFC allows, so it is the default. */
#define MC_ICE_TA_MS 5

/* RFC 8445 14.3: RTO for checks, MAX(500 ms, Ta * pairs in progress); with
 * one stream and a short list it is the 500 ms floor. Lost first checks
 * (a NAT not yet open) are mostly rescued by triggered checks, not by this. */
#define MC_ICE_CHECK_RTO_MS 500

/* How long a succeeded relay pair waits for a direct pair before the
 * controlling agent nominates it (RFC 8445 8.1.1 leaves "when" to the
 * agent); direct pairs are nominated the moment they succeed. The wait is
 * RELAY_GRACE_RTTS times the relay check's round trip, at least
 * RELAY_GRACE_MIN_MS and at most MC_ICE_RELAY_GRACE_MS (the settings value).
 * Measured with tests/lab (bench/ice_connect.sh, 5 runs each, Ta 20 ms):
 * direct pairs that work were selected 20-41 ms after the first check
 * (b-eim, srflx/srflx); relay pairs succeed about 40-50 ms after it. With a
 * fixed 300 ms grace, d-symmetric (relay) selected at 342-348 ms; with
 * this adaptive grace at 141-149 ms (median 144), b-eim unchanged (median
 * 40); at Ta 5 ms, 110-112 ms. A slow relay path (RTT >= 75 ms) still
 * waits the full 300 ms for a direct answer. */
#define MC_ICE_RELAY_GRACE_MS 300
#define MC_ICE_RELAY_GRACE_MIN_MS 100
#define MC_ICE_RELAY_GRACE_RTTS 4

/* RFC 7675 5.1: a consent check every 5 s, randomised to 4-6 s (0.8..1.2). */
#define MC_ICE_CONSENT_INTERVAL_MS 5000
/* RFC 7675 5.1: consent expires 30 s after the last answer. */
#define MC_ICE_CONSENT_TIMEOUT_MS 30000
/* Like browsers' "disconnected": one interval plus a margin with no answer.
 * This alone notices a cut 2-8 s after it (consent answers come every
 * 4-6 s), and it is what catches a path broken in our direction only
 * (the peer's media still arrives). */
#define MC_ICE_DISCONNECTED_MS 8000
/* Faster for the usual outage, where nothing arrives any more: a call
 * carries RTP/RTCP several times a second, so SILENCE_PROBE_MS with no
 * datagram at all from the selected pair sends a consent check at once
 * (RFC 7675 5.1 sets when checks are due, not a floor; a quiet data-only
 * session then checks about every 1.5 s, ~70 B/s). With still nothing
 * heard after DISCONNECTED_SILENCE_MS and that check unanswered (sent at
 * least half that long ago, retransmitted at 0.5 and 1.5 s) the state is
 * disconnected: 3.0 s after a cut in test_pc, 2.9-3.1 s in the lab
 * (docs/lab.md call-reconnect; the range is iptables' own delay), where
 * the 8 s rule alone gave 2-8 s. A quiet session does not trip it while
 * the probe is answered within 1.5 s (by construction, not measured). */
#define MC_ICE_SILENCE_PROBE_MS 1500
#define MC_ICE_DISCONNECTED_SILENCE_MS 3000
/* During an ICE restart, a datagram from a pair's remote says the path is
 * back: that pair is checked again at once rather than at its next backed-
 * off retransmission (0.5, 1, 2, 4 s apart), at most this often per pair.
 * With the check RTO (500 ms) here instead, test_pc's restore -> connected
 * was 2-501 ms depending on where the restore fell between retransmissions
 * (2 ms in 3 runs with 100 ms);
 * a path that works one way only costs at most 10 extra checks a second per
 * pair until the application's next restart clears them. */
#define MC_ICE_HEARD_RECHECK_MS 100
/* RFC 8445 11: keepalives when nothing was sent for Tr (at least 15 s). */
#define MC_ICE_KEEPALIVE_MS 15000

/* Gathering: how long a STUN server's Binding may take (RFC 8489 timing
 * would be 39.5 s; gathering-done must not wait that long, and trickle
 * lets late candidates still count). */
#define MC_ICE_SERVER_TIMEOUT_MS 5000
/* RFC 6762 5: a one-shot query's answer normally arrives within a second;
 * browsers give up on .local candidates after a few seconds. */
#define MC_ICE_MDNS_TIMEOUT_MS 3000
/* RFC 8838 8: without end-of-candidates an agent may still fail the
 * checklist after a while; 10 s after the last remote candidate. */
#define MC_ICE_EOC_WAIT_MS 10000

/* RFC 6544 leaves how long an active candidate waits for its connection
 * to the agent. A path that drops SYNs would otherwise keep the pair
 * in progress for the kernel's ~2 minutes; its check would have timed out
 * long before (RFC 8489 Ti 39.5 s). A path that works connects in a round
 * trip or three SYN retransmissions (1 + 2 s) at worst, well within this. */
#define MC_ICE_TCP_CONNECT_MS 10000

#endif

/* ICE timing defaults, each with its source. mc_ice_settings_default copies
 * them into the one settings struct an agent reads; nothing else in src/ice
 * hard-codes a time. */
#ifndef MC_ICE_TIMING_H
#define MC_ICE_TIMING_H

/* RFC 8445 14.2: Ta, the pacing of checks. The RFC default is 50 ms; it
 * allows 5 ms when only one stream is gathered. We run one stream with one
 * component and few pairs; measured with bench/ice_connect (loopback, host
 * pairs): the first check goes out when the first pair forms, so Ta only
 * spaces later pairs, and 20 ms keeps a dual-stack pair list of ~10 pairs
 * inside 200 ms while not bursting NAT bindings. See docs in ICE_TIMING below. */
#define MC_ICE_TA_MS 20

/* RFC 8445 14.3: RTO for checks, MAX(500 ms, Ta * pairs in progress); with
 * one stream and a short list it is the 500 ms floor. */
#define MC_ICE_CHECK_RTO_MS 500

/* How long a succeeded relay pair waits for a direct pair before the
 * controlling agent nominates it (RFC 8445 8.1.1 leaves "when" to the
 * agent). A direct check that is going to succeed does so within about one
 * pacing round plus one retransmission-free round trip; in the lab a direct
 * pair succeeded within 10-60 ms of the relay pair, so 300 ms covers it with
 * margin and costs a relay-only call 300 ms once. */
#define MC_ICE_RELAY_GRACE_MS 300

/* RFC 7675 5.1: a consent check every 5 s, randomised to 4-6 s (0.8..1.2). */
#define MC_ICE_CONSENT_INTERVAL_MS 5000
/* RFC 7675 5.1: consent expires 30 s after the last answer. */
#define MC_ICE_CONSENT_TIMEOUT_MS 30000
/* Like browsers' "disconnected": one interval plus a margin with no answer. */
#define MC_ICE_DISCONNECTED_MS 8000
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

#endif

namespace EmailPlatform.Status.Suppressions;

/// <summary>
/// The address in a route such as <c>/v1/suppressions/{address}</c> or <c>/v1/recipients/{address}</c>, as the client
/// wrote it. The server percent-decodes the request path before routing, every escape but <c>%2F</c>, which it leaves as
/// it is so that a decoded <c>/</c> cannot split a segment: for <c>GET /v1/suppressions/a%2Fb%40example.com</c> (what
/// <c>Uri.EscapeDataString</c> makes of <c>a/b@example.com</c>, as the delivery workers send it) the route value is
/// <c>a%2Fb@example.com</c>. A <c>/</c> is legal in a local part, and the store keys the address with it (a hard bounce's
/// suppression, an import's), so every address route turns that one escape back here; the others (<c>%25</c>, <c>%3F</c>,
/// <c>%23</c>, <c>%2B</c>, <c>%20</c>, <c>%22</c> for a quoted local part) are already decoded.
/// <para>
/// Chosen over reading the raw request target: the route value is what every host hands over (Kestrel, the test host,
/// the ingress forwarding the path it matched), and it names the segment the route matched, where the raw target would
/// have to be taken apart again (its query, a trailing slash, dot segments) and can be absent. The cost is one ambiguity:
/// an address whose local part holds the three characters <c>%2F</c> themselves (sent as <c>%252F</c>, which the server
/// decodes to <c>%2F</c>) reads as the address with a <c>/</c> there. Such an address can be suppressed by an import and
/// found by <c>search</c>, but not named in these routes (read, put, deleted, erased), and a worker's lookup does not find
/// it, so it is sent to. No mailbox we know of is named so; one with a <c>/</c> is (RFC 5322 allows both).
/// </para>
/// </summary>
internal static class AddressRoute
{
    public static string Decode(string routeValue) => routeValue.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
}

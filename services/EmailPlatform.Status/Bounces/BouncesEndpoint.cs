using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// <c>POST /v1/bounces</c> (admin): a bounce that came back after a relay had accepted the message, as it arrived
/// (<c>Content-Type: message/rfc822</c>), from the mailbox or MTA that receives the envelope sender's mail; recorded by
/// <see cref="BounceReports"/>, refused as <see cref="ReportEndpoint"/> says (422 <see cref="NotADeliveryReport"/> for a
/// message that holds no delivery status notification).
/// </summary>
public static class BouncesEndpoint
{
    public const string NotADeliveryReport = "not_a_delivery_report";

    public static RouteHandlerBuilder MapBounces(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/v1/bounces", ReceiveAsync).TakesReports("Bounces", "ReportBounce",
            "Records the failed recipients of a delivery status notification (RFC 3464) that came back after a relay accepted the message; the body is the notification as received (message/rfc822).");

    internal static Task<Results<Ok<BounceReportResponse>, ProblemHttpResult>> ReceiveAsync(
        HttpContext http, BounceReports reports, CancellationToken cancellationToken) =>
        ReportEndpoint.ReceiveAsync(http, reports, "bounce", NotADeliveryReport, "Not a delivery status notification.", cancellationToken);
}

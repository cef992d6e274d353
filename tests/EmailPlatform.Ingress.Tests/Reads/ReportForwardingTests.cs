using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary><c>POST /v1/bounces</c> and <c>POST /v1/complaints</c> on the ingress reach the status service as sent, for admin keys only.</summary>
public sealed class ReportForwardingTests
{
    [Theory]
    [InlineData("/v1/bounces", "delivery-status")]
    [InlineData("/v1/complaints", "feedback-report")]
    public async Task AReportIsForwardedAsItCameForAdminKeysOnly(string path, string reportType)
    {
        using var status = new StatusStandIn(_ => (200, """{"object": "report"}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        var (sendOnly, _) = await app.CreateApiKeyAsync(new { name = "sender", scopes = new[] { "send", "read" } });
        var report = $"From: MAILER-DAEMON@mx.example.net\r\nContent-Type: multipart/report; report-type={reportType}; boundary=b\r\n\r\n--b--\r\n";

        using var admin = app.CreateClient();
        using var forwarded = await admin.PostAsync(new Uri(path, UriKind.Relative), Rfc822(report));
        using var restricted = app.CreateClient(sendOnly);
        using var refused = await restricted.PostAsync(new Uri(path, UriKind.Relative), Rfc822(report));

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("""{"object": "report"}""", await forwarded.Content.ReadAsStringAsync());
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "restricted_api_key");
        var request = Assert.Single(status.Requests);
        Assert.Equal(($"POST {path}", report, "Bearer " + app.ApiKey, "message/rfc822"), (request.Line, request.Body, request.Authorization, request.ContentType));
    }

    private static ByteArrayContent Rfc822(string text)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
        return content;
    }
}

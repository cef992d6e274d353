using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>Posts a report as received (<c>message/rfc822</c>) to <c>POST /v1/bounces</c> or <c>POST /v1/complaints</c>.</summary>
internal static class ReportPosting
{
    /// <summary>Posts it and returns the answer, which must be 200.</summary>
    public static async Task<JsonElement> PostAsync(HttpClient client, string path, string report)
    {
        using var response = await SendAsync(client, path, report);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.Clone();
    }

    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string report, string contentType = "message/rfc822")
    {
        using var content = Content(report, contentType);
        return await client.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    public static ByteArrayContent Content(string report, string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(report));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }
}

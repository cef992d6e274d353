using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary>
/// <c>POST /v1/bulk/…</c> on the ingress reaches the status service (<c>Ingress:StatusUrl</c>), here a loopback HTTP
/// listener that records what it is sent, for admin keys only.
/// </summary>
public sealed class BulkForwardingTests
{
    [Fact]
    public async Task BulkOperationsAreForwardedToTheStatusServiceForAdminKeysOnly()
    {
        using var status = new RecordingListener();
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        var (sendOnly, _) = await app.CreateApiKeyAsync(new { name = "sender", scopes = new[] { "send", "read" } });
        const string body = """{"filter": {"status": "scheduled"}, "dry_run": true}""";

        using var admin = app.CreateClient();
        using var forwarded = await admin.PostAsync(new Uri("/v1/bulk/cancel?x=1", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        using var restricted = app.CreateClient(sendOnly);
        using var refused = await restricted.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("""{"matched": 3}""", await forwarded.Content.ReadAsStringAsync());
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "restricted_api_key");
        var request = Assert.Single(status.Requests);
        Assert.Equal("POST /v1/bulk/cancel?x=1", request.Line);
        Assert.Equal(body, request.Body);
        Assert.Equal("Bearer " + app.ApiKey, request.Authorization);
    }

    private sealed record Recorded(string Line, string Body, string? Authorization);

    /// <summary>An HTTP server on a free loopback port that answers every request with <c>{"matched": 3}</c>.</summary>
    private sealed class RecordingListener : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _loop;

        public RecordingListener()
        {
            Url = $"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public ConcurrentQueue<Recorded> Requests { get; } = new();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                Requests.Enqueue(new Recorded($"{context.Request.HttpMethod} {context.Request.Url!.PathAndQuery}", await reader.ReadToEndAsync(),
                    context.Request.Headers["Authorization"]));
                var answer = Encoding.UTF8.GetBytes("""{"matched": 3}""");
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(answer);
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}

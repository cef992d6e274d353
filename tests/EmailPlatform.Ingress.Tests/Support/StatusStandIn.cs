using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// An HTTP server on a free loopback port in the place of the status service (<c>Ingress:StatusUrl</c>): it records
/// each request and answers with what <paramref name="answer"/> says for it (status code and JSON body), after
/// <paramref name="delay"/> (one request at a time).
/// </summary>
internal sealed class StatusStandIn : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<string, (int Status, string Json)> _answer;
    private readonly TimeSpan _delay;
    private readonly Task _loop;

    /// <param name="answer">From the request line (<c>GET /v1/emails/…</c>) to the answer.</param>
    /// <param name="delay">How long the stand-in works on each request before answering.</param>
    public StatusStandIn(Func<string, (int Status, string Json)> answer, TimeSpan delay = default)
    {
        _answer = answer;
        _delay = delay;
        Url = $"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(string Line, string Body, string? Authorization)> Requests { get; } = new();

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
            var line = $"{context.Request.HttpMethod} {context.Request.Url!.PathAndQuery}";
            Requests.Enqueue((line, await reader.ReadToEndAsync(), context.Request.Headers["Authorization"]));
            var (status, json) = _answer(line);
            await Task.Delay(_delay);
            try
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
                await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(json));
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The ingress gave up waiting and closed the connection.
            }
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

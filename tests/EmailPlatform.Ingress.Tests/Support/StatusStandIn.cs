using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// An HTTP server on a free loopback port in the place of the status service (<c>Ingress:StatusUrl</c>): it records
/// each request and answers with what <paramref name="answer"/> says for it (status code and JSON body).
/// </summary>
internal sealed class StatusStandIn : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<string, (int Status, string Json)> _answer;
    private readonly Task _loop;

    /// <param name="answer">From the request line (<c>GET /v1/emails/…</c>) to the answer.</param>
    public StatusStandIn(Func<string, (int Status, string Json)> answer)
    {
        _answer = answer;
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
            context.Response.StatusCode = status;
            context.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
            await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(json));
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

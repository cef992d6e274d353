using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// An HTTP server on a free loopback port in the place of the status service (<c>Ingress:StatusUrl</c>): it records
/// each request and answers with what <paramref name="answer"/> says for it (status code and JSON body), after
/// <paramref name="delay"/> (one request at a time); with <paramref name="bodyStall"/>, it sends the first half of each
/// body and then nothing for that long before the rest, and with <paramref name="detailsPending"/> it marks each answer
/// as the status service marks an email whose outcomes came before its details.
/// </summary>
internal sealed class StatusStandIn : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<string, (int Status, string Json)> _answer;
    private readonly TimeSpan _delay;
    private readonly TimeSpan _bodyStall;
    private readonly bool _detailsPending;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="answer">From the request line (<c>GET /v1/emails/…</c>) to the answer.</param>
    /// <param name="delay">How long the stand-in works on each request before answering.</param>
    /// <param name="bodyStall">How long it stops half way through each answer's body.</param>
    /// <param name="detailsPending">Whether each answer carries <c>Email-Details: pending</c>.</param>
    public StatusStandIn(Func<string, (int Status, string Json)> answer, TimeSpan delay = default, TimeSpan bodyStall = default, bool detailsPending = false)
    {
        _answer = answer;
        _delay = delay;
        _bodyStall = bodyStall;
        _detailsPending = detailsPending;
        Url = $"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(string Line, string Body, string? Authorization, string? ContentType)> Requests { get; } = new();

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
            Requests.Enqueue((line, await reader.ReadToEndAsync(), context.Request.Headers["Authorization"], context.Request.ContentType));
            var (status, json) = _answer(line);
            await Task.Delay(_delay);
            try
            {
                context.Response.StatusCode = status;
                context.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
                if (_detailsPending)
                {
                    context.Response.Headers["Email-Details"] = "pending";
                }

                var body = Encoding.UTF8.GetBytes(json);
                if (_bodyStall > TimeSpan.Zero)
                {
                    context.Response.SendChunked = true;
                    await context.Response.OutputStream.WriteAsync(body.AsMemory(0, body.Length / 2));
                    await context.Response.OutputStream.FlushAsync();
                    await Task.Delay(_bodyStall, _stop.Token);
                    body = body[(body.Length / 2)..];
                }

                await context.Response.OutputStream.WriteAsync(body);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The ingress gave up waiting and closed the connection, or the test is over.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

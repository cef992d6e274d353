using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>
/// How a JSON request body is read: checked as UTF-8 and parsed from its bytes, a leading byte order mark ignored,
/// and no copy of a large body made on the way.
/// </summary>
public sealed class JsonBodyTests
{
    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    [Fact]
    public async Task ASendWhoseBodyStartsWithAUtf8ByteOrderMarkIsAccepted()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        using var content = new ByteArrayContent([.. ByteOrderMark, .. Encoding.UTF8.GetBytes(SendBodies.Json().ToJsonString())]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Theory]
    [InlineData(new byte[] { 0xFF }, "a byte that is never UTF-8")]
    [InlineData(new byte[] { 0xC3 }, "a sequence cut short")]
    [InlineData(new byte[] { 0xC0, 0xAF }, "an overlong encoding")]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "a surrogate code point")]
    public async Task ABodyThatIsNotUtf8IsRefusedSayingSo(byte[] bad, string what)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var json = Encoding.UTF8.GetBytes(SendBodies.Json().ToJsonString().Replace("Your receipt", "Your receipt \u0001", StringComparison.Ordinal));
        var at = Array.IndexOf(json, (byte)1);
        using var content = new ByteArrayContent([.. json[..at], .. bad, .. json[(at + 1)..]]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(problem.GetProperty("detail").GetString() == "The request body is not valid UTF-8.", what);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    /// <summary>
    /// A large body is parsed where it was read: neither copied into an array of its own nor decoded into a string
    /// (twice its size in UTF-16) for the serializer to encode back. Reading it into the growing buffer costs about
    /// twice its size; the copy and the string would have added three times more.
    /// </summary>
    [Fact]
    public void ReadingALargeBodyAllocatesLessThanThreeTimesItsSize()
    {
        using var services = new ServiceCollection().AddOptions().AddMetrics().AddSingleton<RequestBodyBudget>().BuildServiceProvider();
        var small = Encoding.UTF8.GetBytes(SendBodies.Json().ToJsonString());
        // Just under a power of two (4 MB), so the buffer does not double once more for the last bytes.
        var size = (4 << 20) - 4096;
        var padded = new byte[size];
        padded.AsSpan().Fill((byte)' ');
        small.CopyTo(padded, size - small.Length);
        Assert.NotNull(Read(services, small).Value);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var body = Read(services, padded);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("Your receipt", body.Value?.Subject);
        Assert.True(allocated < 3L * size, $"reading a {size}-byte body allocated {allocated} bytes");
    }

    /// <summary>Reads synchronously (a body in memory never waits), so that the allocations are all this thread's.</summary>
    private static JsonBody<SendEmailRequest> Read(IServiceProvider services, byte[] body)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body, writable: false);
        var read = JsonBody.ReadAsync<SendEmailRequest>(context.Request, CancellationToken.None);
        Assert.True(read.IsCompleted, "a body in memory is read without waiting");
        return read.GetAwaiter().GetResult();
    }
}

using System.Diagnostics;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace EmailPlatform.Deployment.Tests;

/// <summary>
/// Span attributes that name a URL never carry an email address: the suppression lookups
/// (<c>GET /v1/suppressions/{address}</c>) go over HTTP between the services.
/// </summary>
[Collection(HttpServerTests.Name)]
public sealed class SpanRedactionTests
{
    [Theory]
    [InlineData("http://status:8080/v1/suppressions/user%40example.com", "http://status:8080/v1/suppressions/{address}")]
    [InlineData("/v1/suppressions/user@example.com", "/v1/suppressions/{address}")]
    [InlineData("http://status:8080/v1/suppressions/a%40b.org?scope=x", "http://status:8080/v1/suppressions/{address}?scope=x")]
    [InlineData("https://user@proxy.example.com/v1/emails", "https://user@proxy.example.com/v1/emails")]
    [InlineData("/v1/emails/0196f3a2-4017-770e-bd8c-06baac17d474", "/v1/emails/0196f3a2-4017-770e-bd8c-06baac17d474")]
    public void AddressSegmentsAreReplaced(string url, string expected) =>
        Assert.Equal(expected, EmailTelemetry.RedactAddresses(url));

    [Fact]
    public async Task ServerAndClientSpansOfASuppressionLookupNameNoAddress()
    {
        var spans = new List<Activity>();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "EmailPlatform.Test" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        await using var app = builder.Build();
        app.MapGet("/v1/suppressions/{address}", (string address) => Results.NotFound());
        await app.StartAsync();

        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient();
        var url = $"{app.Urls.Single()}/v1/suppressions/{Uri.EscapeDataString("someone@example.com")}";
        using (var response = await client.GetAsync(new Uri(url)))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        }

        await app.StopAsync();
        app.Services.GetRequiredService<TracerProvider>().ForceFlush();

        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        var clientSpan = Assert.Single(spans, s => s.Kind == ActivityKind.Client);
        Assert.Equal("/v1/suppressions/{address}", server.GetTagItem("url.path"));
        Assert.EndsWith("/v1/suppressions/{address}", (string)clientSpan.GetTagItem("url.full")!, StringComparison.Ordinal);
        Assert.All(spans.SelectMany(s => s.TagObjects), tag =>
            Assert.DoesNotContain("example.com", tag.Value?.ToString() ?? "", StringComparison.Ordinal));
    }
}

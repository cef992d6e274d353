using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary><c>GET /v1/relays</c> through the same extension methods the host uses, on a test server.</summary>
public sealed class RelayEndpointTests
{
    private const string ApiKey = "test-key-0123456789abcdefghijkl";

    [Fact]
    public async Task ListingRelaysShowsConnectionSettingsButNeverCredentials()
    {
        await using var app = await StartAsync();
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);

        var response = await client.GetAsync("/v1/relays");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("relay-user", body, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-password", body, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("list", json.RootElement.GetProperty("object").GetString());
        var relay = Assert.Single(json.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal("primary", relay.GetProperty("name").GetString());
        Assert.Equal("smtp.example", relay.GetProperty("host").GetString());
        Assert.Equal(587, relay.GetProperty("port").GetInt32());
        Assert.Equal("start_tls", relay.GetProperty("security").GetString());
        Assert.Equal(0, relay.GetProperty("priority").GetInt32());
        Assert.Equal(1, relay.GetProperty("weight").GetInt32());
        Assert.Equal(8, relay.GetProperty("max_connections").GetInt32());
    }

    [Fact]
    public async Task ListingRelaysWithoutAnApiKeyIsRefused()
    {
        await using var app = await StartAsync();
        using var client = app.GetTestClient();

        var response = await client.GetAsync("/v1/relays");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static async Task<WebApplication> StartAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Auth:BootstrapKey"] = ApiKey,
            ["ConnectionStrings:Sqlite"] = "Data Source=:memory:",
            ["Delivery:Relays:0:Name"] = "primary",
            ["Delivery:Relays:0:Host"] = "smtp.example",
            ["Delivery:Relays:0:Port"] = "587",
            ["Delivery:Relays:0:Security"] = "StartTls",
            ["Delivery:Relays:0:Username"] = "relay-user",
            ["Delivery:Relays:0:Password"] = "s3cret-password",
            ["Delivery:Relays:0:MaxConnections"] = "8",
        });
        builder.AddServiceDefaults();
        builder.AddApiKeyAuthentication();
        builder.AddDelivery();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapDelivery();
        await app.StartAsync();
        return app;
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Suppressions;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Tests.Suppressions;

/// <summary><see cref="HttpSuppressionList"/> against a tiny status service on loopback.</summary>
public sealed class HttpSuppressionListTests : IAsyncLifetime
{
    private const string Key = "test-bootstrap-key-0123456789";
    private readonly ConcurrentQueue<(string Address, string? Authorization)> _requests = new();
    private readonly ConcurrentDictionary<string, string> _suppressed = new();
    private readonly ConcurrentQueue<(string? MaxAge, string? IfNoneMatch, int Answered)> _filterRequests = new();
    private WebApplication _status = null!;
    private int _failWith;
    private TimeSpan _delay;

    /// <summary>Whether the status service serves its suppression filter (an earlier version did not), and how old it says it is.</summary>
    private bool _serveFilter;
    private TimeSpan _filterAge = TimeSpan.FromSeconds(2);

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _status = builder.Build();
        _status.MapGet("/v1/suppressions/filter", (HttpContext context) =>
        {
            if (!_serveFilter)
            {
                return Results.NotFound();
            }

            var filter = SuppressionFilter.ForAddresses(_suppressed.Count);
            foreach (var address in _suppressed.Keys)
            {
                filter.Add(address);
            }

            var bytes = filter.ToBytes();
            var etag = $"\"{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes))}\"";
            var ifNoneMatch = context.Request.Headers.IfNoneMatch.ToString();
            context.Response.Headers["Suppression-Filter-Age"] = ((long)_filterAge.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers.ETag = etag;
            var notModified = ifNoneMatch == etag;
            _filterRequests.Enqueue((context.Request.Query["max_age"], ifNoneMatch, notModified ? 304 : 200));
            return notModified ? Results.StatusCode(304) : Results.Bytes(bytes, SuppressionFilter.MediaType);
        });
        _status.MapGet("/v1/suppressions/{address}", async (string address, HttpContext context) =>
        {
            _requests.Enqueue((address, context.Request.Headers.Authorization.ToString()));
            await Task.Delay(_delay, context.RequestAborted);
            if (_failWith != 0)
            {
                return Results.StatusCode(_failWith);
            }

            return _suppressed.TryGetValue(address, out var reason)
                ? Results.Json(new { @object = "suppression", email = address, reason, source = "api" })
                : Results.NotFound();
        });
        await _status.StartAsync();
        _suppressed["gone@example.com"] = "Hard bounce 550 5.1.1";

        // The lookup gives up after 2 s by default: a cold server and client on a loaded machine can take that long for the
        // first request, which would then count as a failed lookup. One request first, without a deadline.
        using var warmUp = new HttpClient();
        (await warmUp.GetAsync(new Uri(StatusUrl, "/v1/suppressions/warm-up%40example.com"))).Dispose();
        _requests.Clear();
    }

    public async Task DisposeAsync() => await _status.DisposeAsync();

    private Uri StatusUrl => new(_status.Urls.First());

    [Fact]
    public async Task SuppressedAddressGivesItsReasonAndAnUnknownOneNull()
    {
        await using var services = Create(StatusUrl);
        var list = services.GetRequiredService<ISuppressionList>();

        Assert.Equal("Hard bounce 550 5.1.1", await list.FindAsync("Gone@Example.com", CancellationToken.None));
        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));

        Assert.Equal([("gone@example.com", $"Bearer {Key}"), ("alice@example.com", $"Bearer {Key}")], _requests.ToArray());
    }

    [Fact]
    public async Task BothAnswersAreCachedPerAddressForTheCacheDuration()
    {
        await using var services = Create(StatusUrl);
        var list = services.GetRequiredService<ISuppressionList>();
        await list.FindAsync("gone@example.com", CancellationToken.None);
        await list.FindAsync("alice@example.com", CancellationToken.None);
        _suppressed.Clear();
        _suppressed["alice@example.com"] = "Added by API";

        Assert.Equal("Hard bounce 550 5.1.1", await list.FindAsync("GONE@example.com", CancellationToken.None));
        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task NoCacheDurationAsksEveryTime()
    {
        await using var services = Create(StatusUrl, TimeSpan.Zero);
        var list = services.GetRequiredService<ISuppressionList>();
        await list.FindAsync("gone@example.com", CancellationToken.None);
        _suppressed.Clear();

        Assert.Null(await list.FindAsync("gone@example.com", CancellationToken.None));
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task ServerErrorGivesNullAndIsNotCached()
    {
        await using var services = Create(StatusUrl);
        var list = services.GetRequiredService<ISuppressionList>();
        _failWith = 503;

        Assert.Null(await list.FindAsync("gone@example.com", CancellationToken.None));
        _failWith = 0;
        Assert.Equal("Hard bounce 550 5.1.1", await list.FindAsync("gone@example.com", CancellationToken.None));
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task StatusServiceFailingLongEnoughToOpenACircuitBreakerStillGivesNull()
    {
        // As the services register every HTTP client (AddServiceDefaults): the standard resilience handler, whose breaker
        // opens after 100 failed calls in 30 s and then throws instead of calling.
        await using var services = Create(StatusUrl, serviceDefaults: true, lookupTimeout: new DeliveryOptions().SuppressionLookupTimeout);
        var list = services.GetRequiredService<ISuppressionList>();
        _failWith = 503;

        var answers = await Task.WhenAll(Enumerable.Range(0, 120).Select(i => list.FindAsync($"r{i}@example.com", CancellationToken.None).AsTask()));
        Assert.All(answers, Assert.Null);
        Assert.Null(await list.FindAsync("gone@example.com", CancellationToken.None));
    }

    [Fact]
    public async Task StatusServiceDownGivesNull()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var services = Create(new Uri($"http://127.0.0.1:{closedPort}"));

        Assert.Null(await services.GetRequiredService<ISuppressionList>().FindAsync("gone@example.com", CancellationToken.None));
    }

    [Fact]
    public async Task SlowStatusServiceGivesNullAfterTheTimeout()
    {
        var timeout = new DeliveryOptions().SuppressionLookupTimeout;
        await using var services = Create(StatusUrl, lookupTimeout: timeout);
        _delay = TimeSpan.FromSeconds(10);
        var stopwatch = Stopwatch.StartNew();

        Assert.Null(await services.GetRequiredService<ISuppressionList>().FindAsync("gone@example.com", CancellationToken.None));
        Assert.InRange(stopwatch.Elapsed, timeout - TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task WorkerWithAStatusUrlSuppressesWhatTheStatusServiceSays()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var host = await DeliveryHost.StartAsync(relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:StatusUrl"] = StatusUrl.ToString(),
            ["Auth:BootstrapKey"] = Key,

            // A whole worker host on a loaded machine: a lookup given up on would send to the suppressed address.
            ["Delivery:SuppressionLookupTimeout"] = "00:00:30",
        });
        var email = TestEmails.Create(to: ["gone@example.com", "alice@example.com"]);

        Assert.IsType<HttpSuppressionList>(host.Services.GetRequiredService<ISuppressionList>());
        await host.SendAsync(email);

        var suppressed = Assert.Single(await host.WaitForAsync<EmailSuppressed>(s => s.Count == 1, "the suppression"));
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");
        Assert.Equal(("gone@example.com", "Hard bounce 550 5.1.1"), (suppressed.Recipient, suppressed.Reason));
        Assert.Equal(["alice@example.com"], Assert.Single(relay.Received).RcptTo);
    }

    [Fact]
    public async Task WithTheStatusServicesFilterOnlyAnAddressItMayHoldIsAskedAbout()
    {
        _serveFilter = true;
        await using var services = Create(StatusUrl);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => list.FindAsync($"reader{i}@example.com", CancellationToken.None).AsTask()));
        Assert.All(answers, Assert.Null);
        Assert.Equal("Hard bounce 550 5.1.1", await list.FindAsync("Gone@Example.com", CancellationToken.None));

        // A needless lookup or two among the 200 (the filter's false positives) is allowed; asking about each is not.
        Assert.Contains(("gone@example.com", $"Bearer {Key}"), _requests);
        Assert.InRange(_requests.Count, 1, 6);
        var download = Assert.Single(_filterRequests);
        Assert.Equal(("15", 200), (download.MaxAge, download.Answered)); // a quarter of the minute the answers are cached
    }

    [Fact]
    public async Task AnAddressSuppressedAfterTheFilterWasBuiltIsFoundOnceItIsDownloadedAgainAndAnUnchangedOneIsNotSentAgain()
    {
        _serveFilter = true;
        await using var services = Create(StatusUrl);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);
        await list.RefreshFilterAsync(CancellationToken.None);
        _suppressed["alice@example.com"] = "Added by API";

        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        await list.RefreshFilterAsync(CancellationToken.None);
        Assert.Equal("Added by API", await list.FindAsync("alice@example.com", CancellationToken.None));

        // The second download named the first's entity tag and got 304; the third, after the list changed, the new filter.
        Assert.Equal([200, 304, 200], _filterRequests.Select(r => r.Answered));
        Assert.Equal("", _filterRequests.First().IfNoneMatch);
        Assert.NotEqual("", _filterRequests.Last().IfNoneMatch);
    }

    [Fact]
    public async Task WhenTheStatusServiceFailsAnAddressTheFilterHoldsIsUnknownAndAnyOtherIsNotSuppressed()
    {
        _serveFilter = true;
        await using var services = Create(StatusUrl);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);
        _failWith = 503;

        var unknown = await Assert.ThrowsAsync<SuppressionUnknownException>(() => list.FindAsync("gone@example.com", CancellationToken.None).AsTask());
        Assert.Contains("(HTTP 503 from the status service)", unknown.Message, StringComparison.Ordinal);
        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Equal([("gone@example.com", $"Bearer {Key}")], _requests.ToArray());
    }

    [Fact]
    public async Task AFilterAsOldAsTheCacheDurationIsNotTrustedAndEveryAddressIsAskedAbout()
    {
        _serveFilter = true;
        _filterAge = TimeSpan.FromSeconds(61);
        await using var services = Create(StatusUrl);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);

        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Equal([("alice@example.com", $"Bearer {Key}")], _requests.ToArray());
    }

    [Fact]
    public async Task AStatusServiceWithoutTheFilterIsAskedAboutEveryAddress()
    {
        await using var services = Create(StatusUrl);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);

        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Equal("Hard bounce 550 5.1.1", await list.FindAsync("gone@example.com", CancellationToken.None));
        Assert.Equal(2, _requests.Count);
    }

    [Fact]
    public async Task TheFirstLookupsStartTheFilterDownloadWithoutWaitingForIt()
    {
        _serveFilter = true;
        await using var services = Create(StatusUrl);
        var list = services.GetRequiredService<ISuppressionList>();

        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Equal([("alice@example.com", $"Bearer {Key}")], _requests.ToArray());
        await Eventually.GetAsync(() => Task.FromResult(_filterRequests.Count), n => n == 1, TimeSpan.FromSeconds(30), "the filter download");
    }

    [Fact]
    public async Task NoCacheDurationMeansNoFilterEither()
    {
        _serveFilter = true;
        await using var services = Create(StatusUrl, TimeSpan.Zero);
        var list = (HttpSuppressionList)services.GetRequiredService<ISuppressionList>();
        await list.RefreshFilterAsync(CancellationToken.None);

        Assert.Null(await list.FindAsync("alice@example.com", CancellationToken.None));
        Assert.Single(_requests);
        Assert.Empty(_filterRequests);
    }

    [Fact]
    public void ListRegisteredByTheHostWinsOverTheHttpOne()
    {
        var fake = new FakeSuppressionList();
        var services = new ServiceCollection().AddSingleton<ISuppressionList>(fake).AddHttpSuppressionList();

        using var provider = services.BuildServiceProvider();
        Assert.Same(fake, provider.GetRequiredService<ISuppressionList>());
    }

    /// <summary>
    /// A provider whose lookups wait <paramref name="lookupTimeout"/> (30 s unless given): each test's client is new, and
    /// on a loaded machine its first lookup can take longer than the 2 s default, which would read as "not suppressed".
    /// </summary>
    private static ServiceProvider Create(Uri statusUrl, TimeSpan? cacheDuration = null, bool serviceDefaults = false, TimeSpan? lookupTimeout = null)
    {
        var services = new ServiceCollection().AddLogging();
        if (serviceDefaults)
        {
            services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler(o => o.Retry.DisableForUnsafeHttpMethods()));
        }

        services.Configure<DeliveryOptions>(o =>
        {
            o.StatusUrl = statusUrl;
            o.SuppressionCacheDuration = cacheDuration ?? TimeSpan.FromMinutes(1);
            o.SuppressionLookupTimeout = lookupTimeout ?? TimeSpan.FromSeconds(30);
        });
        services.Configure<AuthOptions>(o => o.BootstrapKey = Key);
        return services.AddHttpSuppressionList().BuildServiceProvider();
    }
}

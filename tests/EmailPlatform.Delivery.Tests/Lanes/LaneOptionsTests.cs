using EmailPlatform.Delivery.Lanes;

namespace EmailPlatform.Delivery.Tests.Lanes;

public sealed class LaneOptionsTests
{
    [Fact]
    public void UnsetLaneKeepsFourMessagesInFlightPerConnectionAndPrefetchesTwiceThat()
    {
        var lane = new LaneOptions();

        Assert.Equal(16, lane.EffectiveConcurrency(maxConnections: 4));
        Assert.Equal(32, lane.EffectivePrefetch(maxConnections: 4));
    }

    [Fact]
    public void ConfiguredConcurrencyAndPrefetchWin()
    {
        Assert.Equal(3, new LaneOptions { ConcurrentMessageLimit = 3 }.EffectiveConcurrency(maxConnections: 4));
        Assert.Equal(6, new LaneOptions { ConcurrentMessageLimit = 3 }.EffectivePrefetch(maxConnections: 4));
        Assert.Equal(5, new LaneOptions { PrefetchCount = 5 }.EffectivePrefetch(maxConnections: 4));
    }
}

# timeline.gp: plot one failover of the e2e chaos suite: which node
# answered the probe, which servers HAProxy routed to, and which node's page
# the client got, over time (seconds from the fault). Data from
# LBHC_CHAOS_TIMELINE (e2e.WriteTimeline): probe.dat, lb.dat, client.dat with
# "seconds lane" lines; lane 1..3 = n1..n3, 0 = nobody / failed request.
#
#   gnuplot -e "dir='DIR'; out='docs/failover-timeline.png'; title='...'" scripts/bench/timeline.gp
#
# scripts/bench/failover.sh runs it.
if (!exists("dir")) dir = "."
if (!exists("out")) out = "failover-timeline.png"
if (!exists("title")) title = "lbhc failover"

set terminal pngcairo size 1200,820 font ",10"
set output out
set multiplot layout 3,1 title title
set yrange [-0.5:3.5]
set ytics ("none" 0, "n1" 1, "n2" 2, "n3" 3)
set xrange [-2:*]
set grid xtics ytics
set arrow 1 from 0, graph 0 to 0, graph 1 nohead lc rgb "red" dt 2
set label 1 "fault" at 0, graph 0.92 offset 0.5,0 tc rgb "red"

set ylabel "probe answered by"
plot dir."/probe.dat" using 1:2 with points pt 7 ps 0.5 lc rgb "#1f77b4" notitle

set ylabel "HAProxy routes to"
plot dir."/lb.dat" using 1:2 with points pt 7 ps 0.5 lc rgb "#2ca02c" notitle

set ylabel "client got page of"
set xlabel "seconds from the fault (kill -9 of the leader)"
plot dir."/client.dat" using 1:2 with points pt 7 ps 0.5 lc rgb "#d62728" notitle
unset multiplot

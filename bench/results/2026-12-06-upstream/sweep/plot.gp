set terminal pngcairo size 1400,390 font 'sans,10'
set output '/tmp/sweep-pass/plot.png'
set multiplot layout 1,2 title "perfgate bench/run, 2026-12-06T20:13:44Z, 2 CPUs, SLO p99 200 ms"
set logscale x
set xlabel 'connections'
set grid
set key outside right top
set datafile missing 'NaN'
targets = "direct perfgate nginx varnish haproxy"
set title 'pass: throughput'
set ylabel 'req/s'
unset logscale y
set yrange [0:*]
plot for [i=1:words(targets)] '/tmp/sweep-pass/plot-pass.dat' using 1:(column(2*i)) with linespoints title word(targets, i)
set title 'pass: p99 latency'
set ylabel 'p99 ms'
set logscale y
set yrange [*:*]
plot for [i=1:words(targets)] '/tmp/sweep-pass/plot-pass.dat' using 1:(column(2*i+1)) with linespoints title word(targets, i)
unset multiplot

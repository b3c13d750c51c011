import t from 'tap'
import { campaignTest } from './simcampaign.js'

t.test('500 seeded runs (seeds 501..1000), every fault class', async t => {
  campaignTest(t, 501, 500)
})
